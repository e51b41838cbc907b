"""SIGINT at any moment of a command's life (issue 26 item 4): while Python starts, while the
parser imports the tools, while programs compile, load and attach, and while the final maps
print. 30 runs at seeded random moments: each ends with status 0 or 130, never a traceback,
and what it held in the kernel (programs, maps, links, uprobe events) is gone after it.

Before: a Ctrl-C in the first second (imports, building the parser) printed a
KeyboardInterrupt traceback."""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests.reliability.common import (
    KINDS,
    Proc,
    held_objects,
    no_traceback,
    tracefs_entries,
    wait_gone,
)
from tests.util import LIBC, requires_root

pytestmark = requires_root

COMMANDS = [
    ["trace", "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } "
              "tracepoint:syscalls:sys_exit_openat { @r = hist(args.ret); } "
              f"uprobe:{LIBC}:getpid {{ @u = count(); }} profile:hz:99 {{ @s[kstack] = count(); }}"],
    ["opensnoop"],
    ["biolatency", "1"],
    ["syscount", "-L"],
    ["execsnoop"],
]
RUNS = 30
BATCH = 5


def _before_pybpf(stderr: str) -> bool:
    """The interrupt came while Python itself started (site, encodings) or imported the
    package's lazy __init__, before pybpf.cli's first line: Python's own handling, the same
    for every Python command."""
    # or while Python imported early_interrupt itself, before its first line ran (the
    # traceback then ends in that import)
    return "pybpf/cli" not in stderr or \
        "from pybpf.cli_support import early_interrupt" in stderr.split("KeyboardInterrupt")[0]


def _one_batch(rng: random.Random) -> list[str]:
    procs = [(Proc(COMMANDS[rng.randrange(len(COMMANDS))]), rng.uniform(0.0, 3.0))
             for _ in range(BATCH)]
    held = [{k: set() for k in KINDS} for _ in procs]
    start = time.monotonic()
    pending = list(range(len(procs)))
    while pending:  # sample what each holds until its moment comes, then interrupt it
        for i in list(pending):
            p, at = procs[i]
            p.pump(0.005)
            for k, ids in held_objects(p.pid).items():
                if k in held[i]:
                    held[i][k] |= ids
            if time.monotonic() - start >= at:
                if p.proc.poll() is None:
                    p.signal(signal.SIGINT)
                pending.remove(i)
    problems = []
    for (p, at), h in zip(procs, held, strict=True):
        name = f"{' '.join(p.argv)[:50]!r} interrupted at {at:.2f}s"
        try:
            rc = p.finish(timeout=30)
        except AssertionError as e:
            problems.append(f"{name}: {e}")
            continue
        if rc not in (0, 130) and not _before_pybpf(p.stderr):
            problems.append(f"{name}: exit {rc}: {p.stderr[-1500:]}")
        if not no_traceback(p.stderr) and not _before_pybpf(p.stderr):
            problems.append(f"{name}: traceback: {p.stderr[-3000:]}")
        left = wait_gone(h, timeout=5)
        if left:
            problems.append(f"{name}: still in the kernel: {left}")
        if tracefs_entries(p.pid):
            problems.append(f"{name}: tracefs entries remain: {tracefs_entries(p.pid)}")
    return problems


def test_sigint_at_any_moment_leaves_nothing_and_no_traceback() -> None:
    rng = random.Random(26)
    problems: list[str] = []
    for _ in range(RUNS // BATCH):
        problems += _one_batch(rng)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15])
def test_sigint_while_starting_is_quiet(delay: float) -> None:
    """Interrupted while pybpf.cli imports the rest (the prelude waits until it started)."""
    p = Proc(["trace", "BEGIN { printf(\"hi\\n\"); }"],
             prelude="import sys; sys.stderr.write('starting\\n'); sys.stderr.flush()\n"
                     "import pybpf.cli_support.early_interrupt\n"
                     "sys.stderr.write('handler\\n'); sys.stderr.flush()\n")
    p.wait_output(timeout=30, stream="err", text="handler")
    time.sleep(delay)
    p.signal(signal.SIGINT)
    rc = p.finish(timeout=30)
    assert rc in (0, 130), (rc, p.stderr)
    assert no_traceback(p.stderr), p.stderr


def test_sigint_as_the_interpreter_exits_is_ignored() -> None:
    """A Ctrl-C after the command's work is done, while Python finalises (where it puts SIG_DFL
    back for Python handlers, so the process died by the signal, status -2): ignored. The
    prelude's atexit callback runs after pybpf's (atexit is last in, first out)."""
    p = Proc(["trace", "BEGIN { printf(\"hi\\n\"); }"],
             prelude="import atexit, os, signal, time\n"
                     "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), "
                     "time.sleep(0.2)))\n")
    rc = p.finish(timeout=60)
    assert rc == 0, (rc, p.stderr)
    assert p.out.decode().startswith("Attaching 1 probe...\nhi\n")
    assert "Exception ignored" not in p.stderr and no_traceback(p.stderr), p.stderr
