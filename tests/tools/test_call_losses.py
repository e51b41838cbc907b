"""The tools that trace a system call at entry and exit (opensnoop, statsnoop, killsnoop,
mountsnoop) join the two in the kernel and send one event per call, so that what they print
plus what they report lost is exactly the calls made, also when the ring buffer or the map of
calls in progress overflows; and the loss report counts calls ("N opens were lost"), never
ring buffer records.

A C child (built here with gcc) makes a burst of exactly N calls once released, and nothing
else the tools trace; the tool follows it with -p. The tool is stopped (SIGSTOP) during the
burst, so that it reads nothing while the kernel fills the ring."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tools.helpers import ROOT, ToolRun, json_lines
from tests.util import requires_root

pytestmark = [requires_root,
              pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")]
N = 2000
SOURCE = Path(__file__).with_name("syscall_burst.c")


@dataclass(frozen=True)
class Tool:
    name: str
    mode: str  # the child's mode (see syscall_burst.c)
    unit: str  # what the loss report counts, plural
    fits: bool  # N events fit in the tool's default ring buffer

    def mine(self, row: dict[str, Any], child: subprocess.Popen[bytes], where: Path) -> bool:
        """Whether a --json row is one of the burst's calls."""
        if self.name == "killsnoop":
            return row["pid"] == child.pid and row["tpid"] == child.pid
        path = row["target"] if self.name == "mountsnoop" else row["path"]
        return path.startswith(f"{where}/")


TOOLS = [Tool("opensnoop", "open", "opens", True),
         Tool("statsnoop", "stat", "stat calls", True),
         Tool("killsnoop", "kill", "kill calls", True),
         # 2000 events of 424 bytes do not fit in its 256 KiB ring
         Tool("mountsnoop", "umount", "mount and umount calls", False)]


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("burst") / "syscall_burst"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(SOURCE), "-lpthread"], check=True)
    return exe


class SizedToolRun(ToolRun):
    """A tool run whose build() gets keyword arguments (the ring buffer's size, the start
    map's), which the command line does not offer."""

    def __init__(self, tool: str, argv: list[str], **build: int) -> None:
        code = ("import functools, sys\n"
                f"from pybpf.tools import {tool} as t\n"
                f"t.build = functools.partial(t.build, **{build!r})\n"
                "from pybpf.cli import main\n"
                "sys.exit(main(sys.argv[1:]))\n")
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-c", code, *argv],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=ROOT)
        self.stdout = ""
        self.stderr = ""


def lost(stderr: str, unit: str, cause: str = "") -> int:
    """The calls the tool reported lost ("pybpf: 12 opens were lost: ..."), those whose
    reason contains `cause`."""
    one = unit.removesuffix("s")
    found = re.findall(rf"^pybpf: (\d+) (?:{unit} were|{one} was) lost: (.*)$", stderr, re.M)
    return sum(int(n) for n, why in found if cause in why)


def run_burst(tool: Tool, exe: Path, where: Path, stop: bool, mode: str = "", n: int = N,
              **build: int) -> tuple[int, int, str]:
    """Run the tool on the child's burst (n calls, in the tool's mode unless `mode` says
    another): (rows for the burst's calls, calls reported lost, stderr)."""
    child = subprocess.Popen([str(exe), mode or tool.mode, str(where), str(n)],
                             stdin=subprocess.PIPE)
    argv = [tool.name, "-p", str(child.pid), "--json", "--duration", "6"]
    r = SizedToolRun(tool.name, argv, **build)
    try:
        r.wait_ready()
        if stop:  # reads nothing while the burst fills the ring
            r.proc.send_signal(signal.SIGSTOP)
        child.stdin.write(b"\n")
        child.stdin.close()
        assert child.wait(60) == 0
        if stop:
            r.proc.send_signal(signal.SIGCONT)
        rc, out, err = r.finish(timeout=60)
    finally:
        for p in (child, r.proc):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert rc == 0, err
    assert "Traceback" not in err, err
    rows = [row for row in json_lines(out) if tool.mine(row, child, where)]
    print(f"\n{tool.name} {build or ''}: {n} calls, {len(rows)} printed, "
          f"{lost(err, tool.unit)} lost")
    return len(rows), lost(err, tool.unit), err


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_printed_plus_lost_is_the_calls_made(tool: Tool, burst: Path, tmp_path: Path) -> None:
    """2000 calls while the tool reads nothing, with its own ring buffer: one event per call,
    so that they all fit (where 2000 events fit), and what is missing is reported as lost
    calls."""
    printed, lost_calls, err = run_burst(tool, burst, tmp_path, stop=True)
    assert printed + lost_calls == N, (printed, lost_calls, err)
    if tool.fits:
        assert printed == N, (printed, lost_calls, err)


def test_opensnoop_under_ten_thousand_distinct_names(burst: Path, tmp_path: Path) -> None:
    """Issue 26 item 1: 10,000 opens of distinct names as fast as the child can make them
    (well under 2 s), opensnoop reading as it goes: every one printed, or reported lost,
    exactly."""
    printed, lost_calls, err = run_burst(TOOLS[0], burst, tmp_path, stop=False, n=10000)
    assert printed + lost_calls == 10000, (printed, lost_calls, err)


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_a_full_ring_loses_whole_calls(tool: Tool, burst: Path, tmp_path: Path) -> None:
    """A 4 KiB ring buffer (a dozen events) under 2000 calls: most are lost, and the report
    counts them in calls, exactly."""
    printed, lost_calls, err = run_burst(tool, burst, tmp_path, stop=True, ring_size=4096)
    assert 0 < printed < N, (printed, err)
    assert printed + lost_calls == N, (printed, lost_calls, err)
    assert lost(err, tool.unit, "ring buffer was full") == lost_calls, err


def test_a_full_start_map_loses_whole_calls(burst: Path, tmp_path: Path) -> None:
    """opensnoop with room for one open in progress: a thread blocked in open() of a FIFO
    holds it, so the 2000 opens of the other thread (and its open of the FIFO, which ends the
    wait) are refused at entry and reported as lost opens; the blocked open is printed."""
    os.mkfifo(tmp_path / "fifo")
    tool = TOOLS[0]
    printed, lost_opens, err = run_burst(tool, burst, tmp_path, stop=False, mode="fifo",
                                         max_calls=1)
    assert printed + lost_opens == N + 2, (printed, lost_opens, err)
    by_map = lost(err, tool.unit, "map 'start' was full")
    assert by_map > 0 and by_map == lost_opens, err
    assert "update" not in err, err  # not reported a second time as a failed map update
