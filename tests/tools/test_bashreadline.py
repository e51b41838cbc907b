"""bashreadline: an interactive bash on a pseudo-terminal reads two command lines."""

from __future__ import annotations

import os
import pty
import shutil
import time

import pytest

from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.skipif(shutil.which("bash") is None,
                                                reason="no bash")]


def _interactive_bash(pids: list[int]) -> None:
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"],
                   {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "dumb"})
    pids.append(pid)
    try:
        time.sleep(0.3)
        os.write(fd, b"echo pybpf-readline-marker\n")
        time.sleep(0.2)
        os.write(fd, b"exit\n")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if not os.read(fd, 4096):
                    break
            except OSError:
                break
    finally:
        os.close(fd)
        os.waitpid(pid, 0)


def test_bashreadline_prints_typed_commands() -> None:
    pids: list[int] = []
    rc, out, err = run_tool(["bashreadline", "--duration", "2.5"],
                            lambda: _interactive_bash(pids))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "PID", "COMMAND"]
    rows = [ln.split(None, 2) for ln in lines[1:]]
    mine = [r[2] for r in rows if r[1] == str(pids[0])]
    assert mine == ["echo pybpf-readline-marker", "exit"]


def test_bashreadline_json() -> None:
    pids: list[int] = []
    rc, out, err = run_tool(["bashreadline", "--json", "--duration", "2.5"],
                            lambda: _interactive_bash(pids))
    assert rc == 0, err
    rows = [r for r in json_lines(out) if r["pid"] == pids[0]]
    assert [r["command"] for r in rows] == ["echo pybpf-readline-marker", "exit"]
