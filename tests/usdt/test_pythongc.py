"""pybpf pythongc against the system Python: a child that makes 100-object cycles and
collects generation 1 when told; each collection appears with its generation, the count
gc.collect() returned, and a duration; -F, -M, -m, --json; a process that is not Python."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import pytest

from tests.tools.helpers import ROOT
from tests.util import requires_root

PYTHON = "/usr/bin/python3.11"
pytestmark = [requires_root, pytest.mark.skipif(not os.path.exists(PYTHON),
                                                reason=f"needs {PYTHON}")]

CHILD = textwrap.dedent("""
    import gc, sys
    gc.disable()
    print("ready", flush=True)
    for line in sys.stdin:
        junk = []
        for _ in range(int(line)):
            a = []
            a.append(a)
            junk.append(a)
        del junk, a
        print(gc.collect(1), flush=True)
""")


class GcChild:
    def __enter__(self) -> GcChild:
        self.proc = subprocess.Popen([PYTHON, "-c", CHILD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.pid = self.proc.pid
        return self

    def collect(self, cycles: int) -> int:
        self.proc.stdin.write(f"{cycles}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


class Tool:
    """pybpf pythongc PID as a subprocess, read as it prints (so that no test waits on a
    clock: it is stopped with SIGINT once it printed what the test waits for)."""

    def __init__(self, pid: int, extra: list[str]) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "pythongc", str(pid),
                                      *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.out: list[str] = []
        self.err = ""
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ, "out")
        self.sel.register(self.proc.stderr, selectors.EVENT_READ, "err")
        self.partial = ""

    def read_until(self, done: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, (self.out, self.err)
            assert self.proc.poll() is None or self.sel.select(0), (self.out, self.err)
            for key, _ in self.sel.select(0.2):
                chunk = os.read(key.fileobj.fileno(), 65536).decode()
                if key.data == "err":
                    self.err += chunk
                    continue
                self.partial += chunk
                *full, self.partial = self.partial.split("\n")
                self.out += full

    def stop(self, interrupt: bool = True) -> tuple[int, list[str], str]:
        if interrupt:
            self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=60)
        self.sel.close()
        self.out += (self.partial + out).splitlines()
        return self.proc.returncode, self.out, self.err + err


def run(extra: list[str], sizes: list[int], rows: int) -> tuple[list[int], list[str], str]:
    """Trace the child while it collects once per entry of `sizes`; stop once the tool
    printed `rows` collections (and, with --json, its lines only then)."""
    as_json = "--json" in extra
    with GcChild() as child:
        tool = Tool(child.pid, extra)
        try:
            # attached once its first lines are out (the header; with --json, the note)
            tool.read_until(lambda: "tracing" in tool.err if as_json else len(tool.out) >= 2)
            returned = [child.collect(n) for n in sizes]
            skip = 0 if as_json else 2
            tool.read_until(lambda: len([x for x in tool.out[skip:] if x.strip()]) >= rows)
        finally:
            # with rows=0 nothing tells when the tool is done: it ends by its --duration
            rc, out, err = tool.stop(interrupt=rows > 0 or child.proc.poll() is not None)
    assert rc == 0, err
    return returned, out, err


def test_collections_with_counts() -> None:
    returned, lines, _ = run([], [100, 250, 7], rows=3)
    assert returned == [100, 250, 7]
    assert lines[0].startswith("Tracing garbage collections in python process ")
    assert lines[1].split() == ["START", "TIME", "(us)", "DESCRIPTION"]
    rows = [line.split(None, 2) for line in lines[2:]]
    assert [r[2] for r in rows] == [f"gen 1 GC collected {n} objects" for n in returned]
    starts = [float(r[0]) for r in rows]
    assert starts == sorted(starts) and all(float(r[1]) > 0 for r in rows)


def test_filter_minimum_and_ms() -> None:
    # -F: only the 250; 9 comes after it, so once the 250 is printed the 100 was refused
    _, lines, _ = run(["-F", "collected 250 ", "-m"], [100, 250, 9], rows=1)
    assert lines[1].split()[:3] == ["START", "TIME", "(ms)"]
    assert [line.split(None, 2)[2] for line in lines[2:]] == ["gen 1 GC collected 250 objects"]
    # -M 100000: the collection is refused in the kernel (no GC takes 100 s)
    _, lines, _ = run(["-M", "100000", "--duration", "2"], [100], rows=0)
    assert len(lines) == 2  # the header only: no GC takes 100 s


def test_json() -> None:
    returned, out, err = run(["--json"], [42], rows=1)
    rows = [json.loads(line) for line in out if line.strip()]
    assert [(r["generation"], r["collected"]) for r in rows] == [(1, 42)]
    assert rows[0]["elapsed_ns"] > 0 and rows[0]["description"] == "gen 1 GC collected 42 objects"
    assert "Tracing garbage collections" in err


def test_not_python() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        res = subprocess.run(["python3", "-m", "pybpf.cli", "pythongc", str(sleeper.pid)],
                             capture_output=True, text=True, timeout=30)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("pybpf pythongc: process ")
    assert "has no USDT probe python:gc__start" in res.stderr
