"""Start-up of `pybpf trace` vs bpftrace: time from launch to the first event's output line
(a one-liner that prints and exits on its first event), the whole run until exit, median of N
runs each (interleaved), and the tracer's peak RSS.

Python modules run from byte code cached in a private PYTHONPYCACHEPREFIX (as an installed
package would); `--no-bytecode` measures with PYTHONDONTWRITEBYTECODE=1 (every module compiled
from source at each start).

    sudo python bench/trace_startup_bench.py [--runs 20] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

PROGRAM = "tracepoint:raw_syscalls:sys_enter { printf(\"first\\n\"); exit(); }"


ENV = dict(os.environ)


def run_once(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds to the first output line, seconds to exit, peak RSS in KiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    assert p.stdout is not None
    line = p.stdout.readline()
    first = time.perf_counter() - t0
    p.stdout.read()
    assert p.stderr is not None
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    total = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0 or b"first" not in line:
        raise SystemExit(f"{cmd[0]} failed with {p.returncode}: {line!r} {err[-800:]!r}")
    return first, total, usage.ru_maxrss  # KiB on Linux


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--program", default=PROGRAM)
    ap.add_argument("--no-bytecode", action="store_true")
    args = ap.parse_args()
    if args.no_bytecode:
        ENV["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = "/tmp/pybpf-bench-pycache"
    bpftrace = shutil.which("bpftrace")
    tools = {"pybpf trace": [sys.executable, "-m", "pybpf.cli_trace", "-q", "-e", args.program]}
    pybpf_bin = shutil.which("pybpf")
    if pybpf_bin:
        tools["pybpf trace (entry point)"] = [pybpf_bin, "trace", "-q", "-e", args.program]
    if bpftrace:
        tools["bpftrace"] = [bpftrace, "-q", "-e", args.program]
    times: dict[str, list[float]] = {k: [] for k in tools}
    totals: dict[str, list[float]] = {k: [] for k in tools}
    rss: dict[str, list[int]] = {k: [] for k in tools}
    for cmd in tools.values():  # warm the page cache (and the byte-code cache)
        run_once(cmd)
    for _ in range(args.runs):
        for name, cmd in tools.items():
            t, total, r = run_once(cmd)
            times[name].append(t)
            totals[name].append(total)
            rss[name].append(r)
    print(f"program: {args.program!r}, {args.runs} runs each, kernel {os.uname().release}, "
          f"{'no byte code' if args.no_bytecode else 'cached byte code'}")
    print(f"{'tracer':<28}{'first event ms (median)':>24}{'min':>8}{'max':>8}"
          f"{'exit ms':>9}{'peak RSS MiB':>14}")
    for name in tools:
        ts = times[name]
        print(f"{name:<28}{statistics.median(ts) * 1e3:>24.1f}{min(ts) * 1e3:>8.1f}"
              f"{max(ts) * 1e3:>8.1f}{statistics.median(totals[name]) * 1e3:>9.1f}"
              f"{statistics.median(rss[name]) / 1024:>14.1f}")
    if "bpftrace" in tools:
        ref_t = statistics.median(times["bpftrace"])
        ref_m = statistics.median(rss["bpftrace"])
        for name in tools:
            if name == "bpftrace":
                continue
            print(f"{name}: start-up {ref_t / statistics.median(times[name]):.2f}x faster than "
                  f"bpftrace, RSS {statistics.median(rss[name]) / ref_m:.2f}x bpftrace's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
