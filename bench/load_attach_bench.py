"""Load + attach time of a 10-instruction tracepoint program, pybpf's API against the bare
system calls (ctypes, no pybpf layers) in the same process.

    sudo python3 bench/load_attach_bench.py [--rounds 200]

Prints the median and p90 per round for both, and their ratio (pybpf / bare). Target: pybpf
load + attach <= 5 ms.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time

from pybpf import Program, asm, attach, maps
from pybpf.btf import tracepoint_format
from pybpf.sys import constants as C
from pybpf.sys.attrs import PerfEventAttr, ProgLoadAttr
from pybpf.sys.syscall import addr, bpf, ioctl, perf_event_open

# 10 instructions (ld_imm64 takes 2 slots, so 11 slots): count events in an array map
TEXT = """
    *(u32 *)(r10 -4) = 0
    r2 = r10
    r2 += -4
    r1 = map[counts] ll
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
out:
    r0 = 0
    exit
"""


def pybpf_round(insns: list[asm.Instruction]) -> float:
    t0 = time.perf_counter()
    prog = Program.load("tracepoint", insns)
    link = attach.tracepoint(prog, "sched", "sched_process_exec")
    t1 = time.perf_counter()
    link.close()
    prog.close()
    return t1 - t0


def bare_round(code: bytes, tp_id: int) -> float:
    t0 = time.perf_counter()
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    fd = bpf(C.BPF_PROG_LOAD, ProgLoadAttr(prog_type=C.ProgType.TRACEPOINT,
                                           insn_cnt=len(code) // 8, insns=addr(insns),
                                           license=addr(lic)))
    attr = PerfEventAttr(type=C.PERF_TYPE_TRACEPOINT, config=tp_id, sample_period=1,
                         wakeup_events=1)
    pfd = perf_event_open(attr, pid=-1, cpu=0)
    ioctl(pfd, C.PERF_EVENT_IOC_SET_BPF, fd)
    ioctl(pfd, C.PERF_EVENT_IOC_ENABLE, 0)
    t1 = time.perf_counter()
    os.close(pfd)
    os.close(fd)
    return t1 - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    counts = maps.Array(value="u64", max_entries=1, name="counts")
    insns = asm.assemble(TEXT, maps={"counts": counts})
    code = asm.encode(insns)
    tp_id = tracepoint_format("sched", "sched_process_exec").id
    pybpf_round(insns), bare_round(code, tp_id)  # warm caches (imports, tracefs, BTF ids)
    ours, bare, assembling = [], [], []
    for _ in range(args.rounds):  # interleaved so that noise hits both alike
        ours.append(pybpf_round(insns))
        bare.append(bare_round(code, tp_id))
        t0 = time.perf_counter()
        asm.assemble(TEXT, maps={"counts": counts})
        assembling.append(time.perf_counter() - t0)

    def show(name: str, xs: list[float]) -> None:
        xs = sorted(xs)
        print(f"{name:<28} median {statistics.median(xs) * 1e3:7.3f} ms   "
              f"p90 {xs[int(len(xs) * 0.9)] * 1e3:7.3f} ms")

    print(f"load + attach of a {len(insns)}-instruction tracepoint program, "
          f"{args.rounds} rounds")
    show("pybpf (Program.load+attach)", ours)
    show("bare syscalls (ctypes)", bare)
    show("asm.assemble of the text", assembling)
    print(f"ratio pybpf / bare: {statistics.median(ours) / statistics.median(bare):.2f}x")
    counts.close()


if __name__ == "__main__":
    main()
