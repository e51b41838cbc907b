"""Thirty tracers at once (issue 26 item 5): ten opensnoops, ten one-liners, five syscounts
and five statsnoops on one child that makes exactly 300 opens and 300 stats; each gets the
exact counts and ends by itself when the child exits (-p, or a sched_process_exit probe)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.reliability.common import Proc, no_traceback
from tests.util import requires_root

pytestmark = requires_root

N = 300


def test_thirty_tracers_get_exact_results() -> None:
    with tempfile.TemporaryDirectory(prefix="pybpf-30-") as tmp:
        target = Path(tmp) / "f"
        target.write_text("x")
        _thirty(target)


def _thirty(target: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import os, sys\nsys.stdin.readline()\n"
                              f"for _ in range({N}):\n"
                              f"    os.close(os.open({str(target)!r}, os.O_RDONLY))\n"
                              f"    os.stat({str(target)!r})\n"], stdin=subprocess.PIPE)
    pid = child.pid
    counter = ('BEGIN { printf("ready\\n"); } '
               f"tracepoint:syscalls:sys_exit_openat /pid == {pid}/ {{ @opens = count(); }} "
               f"tracepoint:sched:sched_process_exit /pid == {pid}/ {{ exit(); }}")
    runs = ([(Proc(["opensnoop", "--json", "-p", str(pid)]), "tracing", "opensnoop")
             for _ in range(10)] +
            [(Proc(["trace", counter]), "ready", "trace") for _ in range(10)] +
            [(Proc(["syscount", "--json", "-p", str(pid)]), "tracing", "syscount")
             for _ in range(5)] +
            [(Proc(["statsnoop", "--json", "-p", str(pid)]), "tracing", "statsnoop")
             for _ in range(5)])
    try:
        for p, marker, _ in runs:
            p.wait_output(timeout=300, text=marker)
        assert child.stdin is not None
        child.stdin.write(b"\n")
        child.stdin.close()
        assert child.wait(120) == 0
        problems = []
        for p, _, kind in runs:
            rc = p.finish(timeout=120)  # each ends by itself as the child exits
            if rc != 0 or not no_traceback(p.stderr):
                problems.append(f"{kind}: exit {rc}: {p.stderr[-1000:]}")
                continue
            got = _count(kind, p.stdout, target)
            if got != N:
                problems.append(f"{kind}: {got} calls, not {N}; stderr: {p.stderr[-500:]}")
        assert not problems, "\n".join(problems)
    finally:
        for p, _, _ in runs:
            if p.proc.poll() is None:
                p.kill()
        if child.poll() is None:
            child.kill()


def _count(kind: str, out: str, target: Path) -> int:
    if kind == "trace":
        found = re.search(r"^@opens: (\d+)$", out, re.M)
        return int(found.group(1)) if found else -1
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if kind == "syscount":
        return sum(int(r.get("count", 0)) for r in rows
                   if r.get("syscall", r.get("name")) == "openat")
    return sum(1 for r in rows if r.get("path") == str(target))
