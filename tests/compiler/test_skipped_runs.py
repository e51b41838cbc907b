"""Runs the kernel skips are counted (issue 17 item 9, issue 26): a raw tracepoint program on
bpf_trace_printk that calls printk() itself fires its own event while it runs; the kernel
skips that nested run (a program never runs inside itself). `prog.skipped_runs()` says how
many (bpf_prog_info's recursion_misses): one per outer printk, exactly."""

from __future__ import annotations

import os

import pytest

from pybpf import bpf, maps, pid, printk, u64
from tests.util import requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the maps are created at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)

ME = os.getpid()
counts = maps.Array(value=u64, max_entries=2, name="skipped_counts")


@bpf.tracepoint("syscalls:sys_enter_getppid")
def outer(ctx):
    if pid() == ME:
        counts[0] += 1
        printk("pybpf skipped-runs test %d", counts[0])  # fires bpf_trace:bpf_trace_printk


@bpf.raw_tracepoint("bpf_trace_printk")
def inner(ctx):
    counts[1] += 1
    printk("pybpf skipped-runs test, inner")  # its own event again: that run is skipped


def test_skipped_runs_are_counted() -> None:
    try:
        with inner.attach(), outer.attach():
            for _ in range(25):
                os.getppid()
            skipped = inner.skipped_runs()
        assert counts[0] == 25
        # each outer printk runs inner once; inner's own printk is the skipped run
        # (printk of other programs on this machine would add as many to both)
        assert counts[1] >= 25 and skipped == counts[1], (counts[1], skipped)
    finally:
        inner.close()
        outer.close()
    assert inner.skipped_runs() == 0  # closed: nothing to ask


def test_a_tool_session_reports_skipped_runs(capsys) -> None:
    """What tools print at the end (pybpf.session.Session.close): the skipped runs, on
    stderr, as a number of events not seen."""
    from pybpf.session import Session

    counts[0] = 0
    counts[1] = 0
    session = Session()
    session.program(inner)
    session.program(outer)
    with session.attach():
        for _ in range(7):
            os.getppid()
    err = capsys.readouterr().err
    assert counts[0] == 7
    want = f"pybpf: {counts[1]} events not seen: the kernel skipped"
    assert counts[1] >= 7 and want in err, (counts[1], err)
