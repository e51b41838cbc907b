"""Running a tool as a subprocess while the test causes its events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class ToolRun:
    def __init__(self, argv: list[str], preexec_fn: Callable[[], Any] | None = None) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "pybpf.cli", *argv],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=ROOT, preexec_fn=preexec_fn)
        self.stdout = ""
        self.stderr = ""

    def wait_ready(self, marker_stream: str = "any", timeout: float = 8.0) -> None:
        """Wait until the tool attached: it prints its header (first line) once attached."""
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ, "out")
        sel.register(self.proc.stderr, selectors.EVENT_READ, "err")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for key, _ in sel.select(0.1):
                # raw reads: communicate() later reads the fds, not the file buffers
                line = os.read(key.fileobj.fileno(), 65536).decode()
                if key.data == "out":
                    self.stdout += line
                else:
                    self.stderr += line
                if line:
                    sel.close()
                    time.sleep(0.3)  # the programs attach right after the header
                    return
            if self.proc.poll() is not None:
                break
        sel.close()
        raise AssertionError(f"the tool did not start: {self.finish()}")

    def finish(self, timeout: float = 20.0) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        self.stdout += out
        self.stderr += err
        return self.proc.returncode, self.stdout, self.stderr


def run_tool(argv: list[str], cause: Callable[[], Any] | None = None,
             ready: bool = True) -> tuple[int, str, str]:
    """Start the tool, wait for its first line, run `cause()`, and collect the output of its
    whole run (the tool ends through --duration or its count)."""
    r = ToolRun(argv)
    try:
        if ready:
            r.wait_ready()
        if cause is not None:
            cause()
        return r.finish()
    finally:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


def comm_of(pid: int) -> str:
    """The process name (comm) the kernel shows for `pid`: what exec made of the program's
    name ("python3", "python3.11", ...), falling back to the interpreter's basename."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().rstrip("\n")
    except OSError:
        return os.path.basename(sys.executable)[:15]


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def gated(code: str, *args: str, **kw: Any) -> subprocess.Popen[Any]:
    """A Python child that runs `code` only after `release(child)`: the test learns its pid
    before starting the tool, and the events happen after the tool has attached."""
    return subprocess.Popen([sys.executable, "-c", "import sys as _s\n_s.stdin.readline()\n"
                             + code, *args], stdin=subprocess.PIPE, **kw)


def release(child: subprocess.Popen[Any], wait: bool = True) -> None:
    child.stdin.write(b"\n" if not getattr(child, "text_mode", False) else "\n")
    child.stdin.close()
    if wait:
        child.wait()
