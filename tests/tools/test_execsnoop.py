from __future__ import annotations

import subprocess

from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def test_execsnoop_shows_a_process_we_start() -> None:
    children: list[int] = []

    def cause() -> None:
        p = subprocess.Popen(["/bin/echo", "pybpf-exec-marker", "second arg"],
                             stdout=subprocess.DEVNULL)
        p.wait()
        children.append(p.pid)

    rc, out, err = run_tool(["execsnoop", "--duration", "2.5"], cause)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PCOMM", "PID", "PPID", "RET", "ARGS"]
    row = next(line for line in lines if "pybpf-exec-marker" in line)
    fields = row.split()
    assert fields[0] == "echo"
    assert int(fields[1]) == children[0]
    assert fields[3] == "0"
    assert row.endswith("/bin/echo pybpf-exec-marker second arg")


def test_execsnoop_json_and_failed_execs() -> None:
    def cause() -> None:
        try:
            subprocess.run(["/tmp/pybpf-no-such-binary"], check=False)
        except FileNotFoundError:
            pass
        subprocess.run(["/bin/true", "json-marker"], check=True)

    rc, out, err = run_tool(["execsnoop", "-x", "--json", "--duration", "2.5"], cause)
    assert rc == 0, err
    events = json_lines(out)
    ok = [e for e in events if e["args"][1:] == ["json-marker"]]
    assert ok and ok[0]["ret"] == 0 and ok[0]["comm"] == "true"
    failed = [e for e in events if e["args"] == ["/tmp/pybpf-no-such-binary"]]
    assert failed and failed[0]["ret"] == -2
