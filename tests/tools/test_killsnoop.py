"""killsnoop and sigsnoop: a child sends SIGUSR1 to a sleeping process, and a signal 0 to a
pid that does not exist."""

from __future__ import annotations

import subprocess

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
SENDER = ("import os, signal, sys\nt = int(sys.argv[1])\nos.kill(t, signal.SIGUSR1)\n"
          "try:\n    os.kill(4000000, 0)\nexcept OSError:\n    pass\n")


def _pair() -> tuple[subprocess.Popen, subprocess.Popen]:
    target = subprocess.Popen(["sleep", "20"])
    return target, gated(SENDER, str(target.pid))


def test_killsnoop_rows() -> None:
    target, sender = _pair()
    try:
        rc, out, err = run_tool(["killsnoop", "-p", str(sender.pid), "--duration", "2"],
                                lambda: release(sender))
    finally:
        target.kill()
        target.wait()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "PID", "COMM", "SIG", "TPID", "RESULT"]
    rows = [ln.split() for ln in lines[1:]]
    assert [r[1] for r in rows] == [str(sender.pid)] * 2
    assert [r[3:] for r in rows] == [["10", str(target.pid), "0"], ["0", "4000000", "-3"]]


def test_killsnoop_json_failed() -> None:
    target, sender = _pair()
    try:
        rc, out, err = run_tool(["killsnoop", "-x", "-p", str(sender.pid), "--json",
                                 "--duration", "2"], lambda: release(sender))
    finally:
        target.kill()
        target.wait()
    assert rc == 0, err
    (row,) = json_lines(out)
    assert row["pid"] == sender.pid and row["tpid"] == 4000000 and row["result"] == -3


def test_sigsnoop_sees_the_signal_with_its_name() -> None:
    target, sender = _pair()
    try:
        first = target.pid
        rc, out, err = run_tool(["sigsnoop", "-n", "-p", str(sender.pid), "--duration", "2"],
                                lambda: release(sender))
        target.wait()
        target = subprocess.Popen(["sleep", "20"])
        rc2, out2, err2 = run_tool(["sigsnoop", "-s", "USR1", "--json", "--duration", "2"],
                                   lambda: target.send_signal(10))
    finally:
        target.kill()
        target.wait()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "PID", "COMM", "SIG", "TPID", "RESULT"]
    rows = [ln.split() for ln in lines[1:]]
    assert [str(sender.pid), "SIGUSR1", str(first), "0"] in [[r[1], *r[3:]] for r in rows]
    assert rc2 == 0, err2
    mine = [r for r in json_lines(out2) if r["tpid"] == target.pid]
    assert mine and mine[0]["signal"] == "SIGUSR1" and mine[0]["tcomm"] == "sleep"
