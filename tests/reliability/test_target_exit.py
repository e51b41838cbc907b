"""A tool given -p PID (or -t TID) ends when that process exits, with a line saying so and
the events it made before exiting printed (issue 26 item 4); before, it waited for events
that could no longer come until Ctrl-C or --duration."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.reliability.common import ROOT, child_env, no_traceback
from tests.util import requires_root

pytestmark = requires_root

# the child opens a file of its own name just before it exits
CHILD = ("import sys, time; sys.stdin.readline(); time.sleep(0.5); "
         "open(sys.argv[1]).close()")
TOOLS = [["opensnoop", "--json"], ["syscount"], ["syscount", "-i", "1"], ["statsnoop"],
         ["killsnoop"], ["opensnoop", "-t"]]


@pytest.mark.parametrize("argv", TOOLS, ids=lambda a: " ".join(a))
def test_tool_ends_when_its_process_exits(argv: list[str], tmp_path) -> None:
    path = tmp_path / "target-file"
    path.write_text("x")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdin=subprocess.PIPE)
    flag = "-t" if "-t" in argv else "-p"
    cmd = [a for a in argv if a != "-t"] + [flag, str(child.pid)]
    tool = subprocess.Popen([sys.executable, "-m", "pybpf.cli", *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)
    try:
        assert tool.stdout is not None and child.stdin is not None
        if "--json" in cmd:
            tool.stderr.readline()  # "tracing..." once attached
        else:
            tool.stdout.readline()  # the header, once attached
        child.stdin.write(b"go\n")
        child.stdin.close()
        assert child.wait(60) == 0
        out, err = tool.communicate(timeout=60)  # ends by itself: no signal, no duration
    finally:
        for p in (child, tool):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert tool.returncode == 0, err
    assert no_traceback(err), err
    what = "thread" if flag == "-t" else "process"
    assert f"pybpf {cmd[0]}: {what} {child.pid} exited" in err, err
    if cmd[0] == "opensnoop" and "--json" in cmd:
        paths = [json.loads(line).get("path") for line in out.splitlines() if line.strip()]
        assert str(path) in paths, out


def test_tool_on_a_pid_not_running_yet_keeps_tracing() -> None:
    """bcc's tools filter on a pid that may appear later: no watch, --duration ends it."""
    res = subprocess.run([sys.executable, "-m", "pybpf.cli", "opensnoop", "-p", "4000000",
                          "--duration", "1"], capture_output=True, text=True,
                         env=child_env(), cwd=ROOT, timeout=60)
    assert res.returncode == 0 and "exited" not in res.stderr, res
