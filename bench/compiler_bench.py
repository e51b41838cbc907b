"""Nanoseconds per event of compiled programs, pybpf against bpftrace, on the same event stream
in the same run, from the kernel's own run-time statistics (BPF_ENABLE_STATS).

    sudo python3 bench/compiler_bench.py [--seconds 3]

Needs bpftrace (Debian package `bpftrace`; installed here if missing). For each case, the
pybpf program(s) and the bpftrace script are attached at the same time to the same
tracepoints while a load generator makes system calls and context switches; each side's
run time / run count over that window is its ns per event. Also prints the instruction count
of each program (the kernel's xlated size) and the compile time of the pybpf side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from pybpf import bpf, comm, hist, ktime_ns, maps, tid, u32, u64
from pybpf.program import enable_stats
from pybpf.sys import objects

counts_tp = maps.PerCPUHash(key="char[16]", value=u64, max_entries=10240, name="counts_tp")
counts_raw = maps.PerCPUHash(key="char[16]", value=u64, max_entries=10240, name="counts_raw")
start = maps.Hash(key=u32, value=u64, max_entries=10240, name="start")
lat = maps.PerCPUHash(key=u64, value=u64, max_entries=64, name="lat")
switches = maps.PerCPUHash(key=u32, value=u64, max_entries=10240, name="switches")


@bpf.tracepoint("raw_syscalls:sys_enter")
def count_comm(ctx):
    counts_tp[comm()] += 1


@bpf.raw_tracepoint("sys_enter")
def count_comm_raw(ctx):
    counts_raw[comm()] += 1


@bpf.tracepoint("raw_syscalls:sys_enter")
def lat_enter(ctx):
    start[tid()] = ktime_ns()


@bpf.tracepoint("raw_syscalls:sys_exit")
def lat_exit(ctx):
    t = tid()
    ts = start.get(t, 0)
    if ts:
        hist.log2_value(lat, ktime_ns() - ts)
        del start[t]


@bpf.tracepoint("sched:sched_switch")
def per_pid(ctx):
    switches[ctx.prev_pid] += 1


@dataclass
class Case:
    name: str
    pybpf: list
    bpftrace: str


CASES = [
    Case("@[comm] = count() on raw_syscalls:sys_enter (tracepoint)", [count_comm],
         "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"),
    Case("@[comm] = count() on sys_enter (pybpf raw tracepoint)", [count_comm_raw],
         "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"),
    Case("log2 histogram of syscall latency (sys_enter + sys_exit)", [lat_enter, lat_exit],
         "tracepoint:raw_syscalls:sys_enter { @start[tid] = nsecs; } "
         "tracepoint:raw_syscalls:sys_exit /@start[tid]/ "
         "{ @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }"),
    Case("per-pid counter on sched:sched_switch", [per_pid],
         "tracepoint:sched:sched_switch { @[args->prev_pid] = count(); }"),
]

LOAD = """
import os, threading
r1, w1 = os.pipe(); r2, w2 = os.pipe()
def pong():
    while True:
        os.read(r1, 1); os.write(w2, b"x")
threading.Thread(target=pong, daemon=True).start()
n = 0
while True:
    os.getppid()
    n += 1
    if n % 64 == 0:
        os.write(w1, b"x"); os.read(r2, 1)
"""


def prog_stats(ids: list[int]) -> dict[int, tuple[int, int, int, str]]:
    """id -> (run_cnt, run_time_ns, xlated insns, name)"""
    out = {}
    for pid in ids:
        try:
            with objects.fd_by_id("prog", pid) as fd:
                info = objects.prog_info(fd.fileno())
        except OSError:
            continue
        out[pid] = (info.run_cnt, info.run_time_ns, info.xlated_prog_len // 8,
                    info.name.decode())
    return out


def run_case(case: Case, seconds: float) -> dict:
    t0 = time.perf_counter()
    for p in case.pybpf:
        p._compiled = None
        assert p.insns  # compile
    compile_ms = (time.perf_counter() - t0) * 1e3
    before = set(objects.ids("prog"))
    attachments = [p.attach() for p in case.pybpf]
    ours = [p.load().id for p in case.pybpf]
    tracer = subprocess.Popen(["bpftrace", "-e", case.bpftrace], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    theirs: list[int] = []
    while time.monotonic() < deadline and len(theirs) < len(case.pybpf):
        theirs = [i for i in objects.ids("prog") if i not in before and i not in ours]
        time.sleep(0.1)
    time.sleep(0.5)  # bpftrace attaches after loading
    s0 = prog_stats(ours + theirs)
    time.sleep(seconds)
    s1 = prog_stats(ours + theirs)
    tracer.terminate()
    tracer.wait()
    for a in attachments:
        a.close()

    def ns(ids: list[int]) -> tuple[float, int, int]:
        cnt = sum(s1[i][0] - s0[i][0] for i in ids if i in s1 and i in s0)
        tm = sum(s1[i][1] - s0[i][1] for i in ids if i in s1 and i in s0)
        insns = sum(s1[i][2] for i in ids if i in s1)
        return (tm / cnt if cnt else float("nan")), cnt, insns

    (ns_ours, n_ours, i_ours), (ns_theirs, n_theirs, i_theirs) = ns(ours), ns(theirs)
    return {"case": case.name, "pybpf_ns": ns_ours, "bpftrace_ns": ns_theirs,
            "pybpf_events": n_ours, "bpftrace_events": n_theirs, "pybpf_insns": i_ours,
            "bpftrace_insns": i_theirs, "compile_ms": compile_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    if shutil.which("bpftrace") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "bpftrace"], check=True)
    load = subprocess.Popen([sys.executable, "-c", LOAD])
    try:
        with enable_stats():
            rows = [run_case(c, args.seconds) for c in CASES]
    finally:
        load.kill()
    print(f"{'case':<60} {'pybpf ns':>9} {'bpftrace ns':>11} {'ratio':>6} "
          f"{'insns':>6} {'bt insns':>8} {'compile':>8}")
    for r in rows:
        ratio = r["pybpf_ns"] / r["bpftrace_ns"]
        print(f"{r['case']:<60} {r['pybpf_ns']:9.1f} {r['bpftrace_ns']:11.1f} {ratio:6.2f} "
              f"{r['pybpf_insns']:6d} {r['bpftrace_insns']:8d} {r['compile_ms']:6.1f}ms")
    print("(ns = kernel run time / run count over the same window; events counted: "
          + ", ".join(f"{r['pybpf_events']}/{r['bpftrace_events']}" for r in rows) + ")")
    for c in CASES:
        for p in c.pybpf:
            p.close()


if __name__ == "__main__":
    main()
