"""Helpers for the link tests: counting programs, child processes, skips."""

from __future__ import annotations

import os

import pytest

from pybpf import Program, asm, maps

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="attaching BPF programs needs root")

COUNT_BODY = """
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map[COUNTS] ll
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
out:
    r0 = {ret}
    exit
"""

PID_FILTER = """
    call bpf_get_current_pid_tgid
    r0 >>= 32
    if r0 != {pid} goto out
"""


def counter(prog_type: str, ret: int = 0, attach: str | None = None,
            pid: int | None = None) -> tuple[Program, maps.Array]:
    """A program that adds 1 to COUNTS[0] each time it runs (only in process `pid` when
    given) and returns `ret`; and the map."""
    counts = maps.Array(key="u32", value="u64", max_entries=1)
    text = (PID_FILTER.format(pid=pid) if pid is not None else "") + COUNT_BODY.format(ret=ret)
    prog = Program.load(prog_type, asm.assemble(text, maps={"COUNTS": counts}), attach=attach)
    return prog, counts


def burn_cpu(seconds: float) -> None:
    import time

    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
