from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def test_exitsnoop_codes_and_signals() -> None:
    pids: dict[str, int] = {}

    def cause() -> None:
        p = subprocess.Popen(["sh", "-c", "exit 3"])
        p.wait()
        pids["code"] = p.pid
        q = subprocess.Popen(["sleep", "5"])
        time.sleep(0.1)
        os.kill(q.pid, signal.SIGKILL)
        q.wait()
        pids["kill"] = q.pid

    rc, out, err = run_tool(["exitsnoop", "--duration", "2.5"], cause)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PCOMM", "PID", "PPID", "TID", "AGE(s)", "EXIT_CODE"]
    rows = {int(ln.split()[1]): ln for ln in lines[1:]}
    code = rows[pids["code"]].split()
    assert code[0] == "sh" and code[2] == str(os.getpid()) and code[5:] == ["code", "3"]
    killed = rows[pids["kill"]].split()
    assert killed[0] == "sleep" and 0.05 < float(killed[4]) < 2
    assert killed[5:] == ["signal", "9", "(SIGKILL)"]


def test_exitsnoop_failed_only_json() -> None:
    pids: list[int] = []

    def cause() -> None:
        for cmd in ("exit 0", "exit 7"):
            p = subprocess.Popen(["sh", "-c", cmd])
            p.wait()
            pids.append(p.pid)

    rc, out, err = run_tool(["exitsnoop", "-x", "--json", "--duration", "2"], cause)
    assert rc == 0, err
    events = {e["pid"]: e for e in json_lines(out)}
    assert pids[0] not in events
    assert events[pids[1]]["exit_code"] == 7 and events[pids[1]]["description"] == "code 7"
