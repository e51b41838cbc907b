"""Exactness under load (issue 26 item 1): a child that makes exactly 1,000,000 getppid()
calls is counted exactly by syscount, by a one-liner's count() and by a compiled Python
counter. One missed or doubled event fails the test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.common import ROOT, child_env, no_traceback
from tests.util import requires_root

pytestmark = requires_root

N = 1_000_000
SOURCE = Path(__file__).with_name("getppid_burst.c")


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("getppid") / "getppid_burst"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(SOURCE)], check=True)
    return exe


def _start(exe: Path) -> subprocess.Popen:
    return subprocess.Popen([str(exe), str(N)], stdin=subprocess.PIPE)


def _go(child: subprocess.Popen) -> None:
    assert child.stdin is not None
    child.stdin.write(b"\n")
    child.stdin.close()
    assert child.wait(120) == 0


def _wait_for(proc: subprocess.Popen, stream_text: list[str], marker: str) -> None:
    """Read the tool's stderr/stdout until `marker` shows that it is attached."""
    deadline = time.monotonic() + 30
    import os
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, 0)
    sel.register(proc.stderr, selectors.EVENT_READ, 1)
    try:
        while time.monotonic() < deadline and marker not in "".join(stream_text):
            for key, _ in sel.select(0.2):
                stream_text[key.data] += os.read(key.fileobj.fileno(), 65536).decode()
            if proc.poll() is not None:
                break
    finally:
        sel.close()
    assert marker in "".join(stream_text), stream_text


def _run_tool(argv: list[str], exe: Path, marker: str) -> tuple[str, str]:
    child = _start(exe)
    proc = subprocess.Popen([sys.executable, "-m", "pybpf.cli", *argv, str(child.pid)]
                            if argv[-1] in ("-p",) else
                            [sys.executable, "-m", "pybpf.cli",
                             *[a.replace("PID", str(child.pid)) for a in argv]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env(), cwd=ROOT)
    try:
        text = ["", ""]
        _wait_for(proc, text, marker)
        _go(child)
        out, err = proc.communicate(timeout=120)
    finally:
        for p in (child, proc):
            if p.poll() is None:
                p.kill()
                p.wait()
    return text[0] + out, text[1] + err


def test_syscount_counts_a_million_calls_exactly(burst: Path) -> None:
    out, err = _run_tool(["syscount", "-p", "PID", "--json", "-d", "8"], burst, "tracing")
    assert no_traceback(err), err
    counts = {}
    for line in out.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            for key in ("syscall", "name"):
                if key in row:
                    counts[row[key]] = row.get("count")
    assert counts.get("getppid") == N, (out[-2000:], err[-2000:])


def test_one_liner_counts_a_million_calls_exactly(burst: Path) -> None:
    """BEGIN's printf is the signal to start, as users take a script's "Tracing..." line:
    bpftrace runs BEGIN once every probe is attached (pybpf ran it before, and missed about
    100,000 of the calls)."""
    prog = ('BEGIN { printf("Tracing\\n"); } '
            "tracepoint:syscalls:sys_enter_getppid /pid == PID/ { @calls = count(); } "
            "tracepoint:sched:sched_process_exit /pid == PID/ { exit(); }")
    out, err = _run_tool(["trace", prog], burst, "Tracing")  # ends as the child exits
    assert no_traceback(err), err
    found = re.search(r"^@calls: (\d+)$", out, re.M)
    assert found and int(found.group(1)) == N, (out[-2000:], err[-2000:])


def test_compiled_counter_counts_a_million_calls_exactly(burst: Path) -> None:
    from pybpf import bpf, maps, pid, u32, u64

    calls = maps.Array(key=u32, value=u64, max_entries=1)
    target = maps.Array(key=u32, value=u32, max_entries=1)

    @bpf.tracepoint("syscalls:sys_enter_getppid")
    def on_getppid(ctx):
        if pid() == target[0]:
            calls[0] += 1
        return 0

    child = _start(burst)
    try:
        target[0] = child.pid
        with on_getppid.attach():
            _go(child)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert calls[0] == N
