"""Cleanup: every tool and `pybpf trace`, ended by SIGINT, SIGTERM and SIGKILL after its first
output, leaves nothing behind: the programs, maps and links it held are gone from the kernel's
id lists within a few seconds, no process of its session survives (so no perf event fd of it
remains), and no uprobe/kprobe event of its own stays in tracefs. Under CI (tests alone) the
kernel's whole id lists must also equal those before."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pybpf import tools
from tests.reliability.common import (
    KINDS,
    Proc,
    held_objects,
    kernel_ids,
    no_traceback,
    pump_all,
    session_processes,
    tracefs_entries,
    wait_gone,
)
from tests.util import LIBC, requires_root, tool_args

pytestmark = requires_root


# arguments for tools that need some
TOOL_ARGS = {name: tool_args(name) for name in ("funclatency", "pythongc", "funccount",
                                                "stackcount")}
# (id, argv, text that shows the command is attached and working)
TOOL_RUNS = [(name, [name, *TOOL_ARGS.get(name, [])], None) for name in tools.TOOLS] + [
    ("syscount-interval", ["syscount", "-i", "1"], "SYSCALL"),
    ("snapshot", ["snapshot", "-d", "30"], None),
]
TRACE_RUNS = [
    ("trace-tracepoint", ["trace", "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"
                                   " interval:ms:200 { printf(\"tick\\n\"); }"], "tick"),
    ("trace-printf-ringbuf", ["trace", "tracepoint:raw_syscalls:sys_enter { printf(\"%d\\n\", "
                                       "pid); }"], "\n"),
    ("trace-profile-stacks", ["trace", "profile:hz:99 { @[kstack, ustack] = count(); } "
                                       "interval:ms:300 { printf(\"tick\\n\"); }"], "tick"),
    ("trace-hist", ["trace", "tracepoint:syscalls:sys_exit_read { @h = hist(args.ret); } "
                             "interval:ms:300 { print(@h); }"], "@h"),
    ("trace-uprobe", ["trace", f"uprobe:{LIBC}:getpid {{ @n = count(); }} "
                               "interval:ms:300 { printf(\"tick\\n\"); }"], "tick"),
    ("trace-child", ["trace", "-c", "sleep 30", "tracepoint:sched:sched_switch { @[cpu] = "
                                                 "count(); } interval:ms:300 { printf(\"tick\\n\"); }"],
     "tick"),
]
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
BATCH = 7  # commands started at once (they compile on a 2-CPU machine)


def _check_ended(p: Proc, held: dict[str, set[int]], sig: int, rc: int | None) -> list[str]:
    """What `p` left behind after `sig` (empty: nothing)."""
    name = f"{' '.join(p.argv)[:60]!r} after {signal.Signals(sig).name}"
    problems = []
    if sig != signal.SIGKILL:
        if rc != 0:
            problems.append(f"{name}: exit {rc}: {p.stderr[-1500:]}")
        if not no_traceback(p.stderr):
            problems.append(f"{name}: traceback: {p.stderr[-3000:]}")
    deadline = time.monotonic() + 3
    while session_processes(p.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = session_processes(p.pid)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    if survivors:  # a survivor would still hold perf events or fds
        problems.append(f"{name}: processes of its session survive: {survivors}")
    left = wait_gone({k: held[k] for k in KINDS}, timeout=5)
    if left:
        problems.append(f"{name}: still in the kernel: {left}")
    if tracefs_entries(p.pid):
        problems.append(f"{name}: tracefs entries remain: {tracefs_entries(p.pid)}")
    return problems


unsupported: list[str] = []  # tools that say this kernel lacks what they need


def _run_and_end(runs: list[tuple[str, list[str], str | None]], sig: int) -> list[str]:
    problems: list[str] = []
    for i in range(0, len(runs), BATCH):
        procs = [(Proc(argv), marker) for _, argv, marker in runs[i:i + BATCH]]
        try:
            helds = []
            for p, marker in procs:
                try:
                    p.wait_output(timeout=60, text=marker)
                    pump_all([p], 0.3)
                    helds.append(held_objects(p.pid))
                    if p.proc.poll() is not None:  # ended by itself: this kernel lacks a hook
                        p.finish()
                        lines = p.stderr.strip().splitlines()
                        if p.proc.returncode != 1 or len(lines) != 1 or \
                                not no_traceback(p.stderr):
                            problems.append(f"{p.argv}: ended by itself, exit "
                                            f"{p.proc.returncode}: {p.stderr[-1500:]}")
                        unsupported.append(p.argv[0])
                    elif not helds[-1]["prog"]:
                        problems.append(f"{p.argv}: holds no BPF program after its output")
                except AssertionError as e:
                    problems.append(str(e))
                    helds.append(held_objects(p.pid))
            for p, _ in procs:
                if p.proc.poll() is None:
                    p.signal(sig)
            for (p, _), held in zip(procs, helds, strict=True):
                try:
                    rc = p.finish(timeout=20)
                except AssertionError as e:
                    problems.append(str(e))
                    rc = None
                ended_itself = p.argv[0] in unsupported
                problems += _check_ended(p, held, signal.SIGKILL if ended_itself else sig, rc)
        finally:
            for p, _ in procs:
                if p.proc.poll() is None:
                    p.kill()
    return problems


@pytest.mark.parametrize("sig", SIGNALS, ids=[s.name for s in SIGNALS])
def test_signal_leaves_nothing_behind(sig: int) -> None:
    """All tools and one-liners, a few at a time, each started, ended by SIGINT after its
    first output, and checked; a third of them each by SIGTERM and by SIGKILL (their
    handling is shared by every command, and the whole set costs a minute per signal)."""
    before = kernel_ids()
    runs = TOOL_RUNS + [r for r in TRACE_RUNS if r[0] != "trace-child"]
    if sig != signal.SIGINT:
        runs = runs[SIGNALS.index(sig)::3]
    problems = _run_and_end(runs, sig)
    assert not problems, "\n".join(problems)
    if os.environ.get("CI"):  # tests run alone: the whole id lists are back
        after = wait_gone({k: kernel_ids()[k] - before[k] for k in KINDS}, timeout=5)
        assert not after, f"the kernel holds new objects: {after}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_trace_child_ends_with_the_tracer(sig: int) -> None:
    problems = _run_and_end([r for r in TRACE_RUNS if r[0] == "trace-child"], sig)
    assert not problems, "\n".join(problems)


def test_trace_child_dies_with_a_killed_tracer() -> None:
    problems = _run_and_end([r for r in TRACE_RUNS if r[0] == "trace-child"], signal.SIGKILL)
    assert not problems, "\n".join(problems)
