"""Counting programs for the function-hook tests (kprobe, kprobe_multi, fentry, fexit,
tp_btf): each adds to COUNTS[0] when it runs in this process and `cond` holds."""

from __future__ import annotations

import os
from typing import Any

from pybpf import Program, asm, maps
from pybpf.link import load_tracing

# r6 = ctx; `cond` may read it and `goto out`; `value` computes r7, added to COUNTS[0]
TEMPLATE = """
    r6 = r1
{pid_filter}
{cond}
{value}
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map[COUNTS] ll
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    {store}
    r0 = {ret}
    exit
out:
    r0 = 0
    exit
"""
PID_FILTER = """    call bpf_get_current_pid_tgid
    r0 >>= 32
    if r0 != {pid} goto out"""
ADD = "lock *(u64 *)(r0 +0) += r7"
SET = "*(u64 *)(r0 +0) = r7"


def code(counts: maps.Array, cond: str = "", value: str = "r7 = 1", store: str = ADD,
         pid: int | None = None, ret: int = 0) -> list[Any]:
    """pid None: this process; -1: every process. The program returns `ret` when it counted,
    else 0."""
    pid = os.getpid() if pid is None else pid
    text = TEMPLATE.format(pid_filter=PID_FILTER.format(pid=pid) if pid >= 0 else "",
                           cond=cond, value=value, store=store, ret=ret)
    return list(asm.assemble(text, maps={"COUNTS": counts}))


def new_counts() -> maps.Array:
    return maps.Array(key="u32", value="u64", max_entries=1)


def kprobe_counter(attach: str | None = None, **kw: Any) -> tuple[Program, maps.Array]:
    counts = new_counts()
    return Program.load("kprobe", code(counts, **kw), attach=attach), counts


def tracing_counter(kind: str, target: str, **kw: Any) -> tuple[Program, maps.Array]:
    counts = new_counts()
    return load_tracing(kind, code(counts, **kw), target), counts
