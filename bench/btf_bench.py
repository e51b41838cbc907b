"""Benchmark: time and memory to the first BTF struct lookup in a fresh process.

    python3 bench/btf_bench.py [--runs N]

Each measurement runs in a new interpreter. "cold" has an empty index cache (the record
index is built by a scan and then written); "warm" reads it back; "no cache" has caching
off. Times are from just before ``import pybpf.btf`` to just after
``kernel_btf().struct("task_struct")``; the references are the startup of ``python -c pass``
and reading the whole vmlinux BTF file, measured in the same run. Bytecode of pybpf is
compiled once beforehand (into a temporary pycache prefix), as an installed package would be.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

VMLINUX = "/sys/kernel/btf/vmlinux"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, time, tracemalloc, sys
def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out
trace = sys.argv[1] == "trace"
if trace:
    tracemalloc.start()
before = status()
t0 = time.perf_counter()
import pybpf
tp = time.perf_counter()
import pybpf.btf
t1 = time.perf_counter()
b = pybpf.btf.kernel_btf()
t2 = time.perf_counter()
s = b.struct("task_struct")
off = b.offsetof("task_struct", "pid")
t3 = time.perf_counter()
after = status()
res = {"pkg": tp - t0, "import": t1 - tp, "load": t2 - t1, "lookup": t3 - t2, "total": t3 - t0,
       "rss_kb": after["VmRSS"] - before["VmRSS"], "anon_kb": after["RssAnon"] - before["RssAnon"],
       "decoded": len(b._types)}
if trace:
    cur, peak = tracemalloc.get_traced_memory()
    res["py_held_kb"] = cur / 1024
    res["py_peak_kb"] = peak / 1024
print(json.dumps(res))
"""


def child_env(pycache: str, cache_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["PYBPF_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_child(env: dict[str, str], mode: str = "time") -> tuple[dict, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    return json.loads(out.stdout), wall


def python_startup(env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def read_file_time(runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with open(VMLINUX, "rb") as f:
            f.read()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(label: str, env: dict[str, str], runs: int, prepare=None) -> dict:
    rows = []
    walls = []
    for _ in range(runs):
        if prepare:
            prepare()
        res, wall = run_child(env)
        rows.append(res)
        walls.append(wall)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    med["wall"] = statistics.median(walls)
    med["label"] = label
    return med


HASH_CHILD = r"""
import json, mmap, os, struct, time
t0 = time.perf_counter()
import hashlib
t1 = time.perf_counter()
fd = os.open("/sys/kernel/btf/vmlinux", os.O_RDONLY)
data = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
hdr_len, type_off, type_len = struct.unpack_from("<4xIII", data)
t2 = time.perf_counter()
with memoryview(data) as v, v[hdr_len + type_off : hdr_len + type_off + type_len] as section:
    hashlib.sha256(section).digest()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "hash": t3 - t2, "bytes": type_len}))
"""


def hash_reference(env: dict[str, str], runs: int) -> dict[str, float]:
    """What a warm load now pays for the cache's integrity: importing hashlib (OpenSSL) and
    the SHA-256 of the type section that keys the cache, each in a fresh process."""
    rows = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", HASH_CHILD], env=env, check=True,
                             capture_output=True, text=True)
        rows.append(json.loads(out.stdout))
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def full_decode_time(env: dict[str, str]) -> float:
    code = (
        "import time; from pybpf.btf import kernel_btf; b = kernel_btf(); t = time.perf_counter()\n"
        "n = sum(1 for _ in b.types()); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout)


def bpftool_raw_time() -> float | None:
    if not shutil.which("bpftool"):
        return None
    t0 = time.perf_counter()
    subprocess.run(["bpftool", "btf", "dump", "file", VMLINUX, "format", "raw"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not os.path.exists(VMLINUX):
        sys.exit(f"{VMLINUX} is missing: this kernel has no BTF")
    ms = 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        pycache = os.path.join(tmp, "pycache")
        cache_dir = os.path.join(tmp, "idx")
        env = child_env(pycache, cache_dir)
        off_env = child_env(pycache, "off")
        run_child(off_env)  # compile bytecode once

        def clear_cache() -> None:
            shutil.rmtree(cache_dir, ignore_errors=True)

        startup = python_startup(env, args.runs)
        read = read_file_time(args.runs)
        cold = measure("cold (empty cache, index built + written)", env, args.runs, clear_cache)
        run_child(env)
        warm = measure("warm (index read from cache)", env, args.runs)
        nocache = measure("no cache (PYBPF_CACHE_DIR=off)", off_env, args.runs)
        traced, _ = run_child(env, "trace")
        hashing = hash_reference(env, args.runs)
        full = full_decode_time(env)
        bpftool = bpftool_raw_time()

    size = os.path.getsize(VMLINUX)
    print(f"BTF: {VMLINUX}, {size / 1e6:.1f} MB; python {sys.version.split()[0]}; median of {args.runs} fresh processes")
    print(f"reference: `python -c pass` startup {startup * ms:.1f} ms; reading the BTF file {read * ms:.1f} ms")
    print()
    print(f"{'first struct lookup':44} {'pybpf':>7} {'.btf':>7} {'load':>7} {'lookup':>7} {'total':>7} {'x startup':>9} {'x read':>7} {'process':>8} {'RSS +':>8} {'anon +':>8}")
    for r in (cold, warm, nocache):
        print(
            f"{r['label']:44} {r['pkg'] * ms:6.1f}m {r['import'] * ms:6.1f}m {r['load'] * ms:6.1f}m {r['lookup'] * ms:6.1f}m "
            f"{r['total'] * ms:6.1f}m {r['total'] / startup:9.2f} {r['total'] / read:7.2f} {r['wall'] * ms:7.1f}m "
            f"{r['rss_kb'] / 1024:6.1f}MB {r['anon_kb'] / 1024:6.1f}MB"
        )
    print("columns: import of the pybpf package root (other layers) and of pybpf.btf; load = kernel_btf();")
    print("lookup = struct('task_struct') + offsetof(...); total = all of these; 'x startup'/'x read' divide")
    print("total by the references; process = wall time of the whole child; RSS/anon = growth over the child's run")
    print()
    print(f"types decoded for the lookup: {int(warm['decoded'])} (lazy)")
    print(f"in the warm load: `import hashlib` {hashing['import'] * ms:.1f} ms, SHA-256 of the "
          f"{hashing['bytes'] / 1e6:.1f} MB type section (the cache key) {hashing['hash'] * ms:.1f} ms")
    print(f"python heap held after the lookup (tracemalloc, warm): {traced['py_held_kb'] / 1024:.2f} MB, "
          f"peak {traced['py_peak_kb'] / 1024:.2f} MB")  # fmt: skip
    line = f"full decode of every type (walk, warm index): {full * ms:.0f} ms"
    if bpftool:
        line += f"; bpftool raw dump of the same file: {bpftool * ms:.0f} ms (ratio {full / bpftool:.2f})"
    print(line)


if __name__ == "__main__":
    main()
