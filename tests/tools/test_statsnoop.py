from __future__ import annotations

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
STATTER = ("import os\nos.stat('/etc/hostname')\n"
           "try:\n    os.stat('/tmp/pybpf-statsnoop-missing')\nexcept OSError:\n    pass\n")


def test_statsnoop_shows_stats_of_one_process() -> None:
    child = gated(STATTER)
    rc, out, err = run_tool(["statsnoop", "-p", str(child.pid), "--duration", "2.5"],
                            lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "COMM", "FD", "ERR", "PATH"]
    rows = [ln.split() for ln in lines[1:]]
    assert all(r[0] == str(child.pid) for r in rows)
    ok = [r for r in rows if r[-1] == "/etc/hostname"]
    missing = [r for r in rows if r[-1] == "/tmp/pybpf-statsnoop-missing"]
    assert ok and ok[0][2:4] == ["0", "0"]
    assert missing and missing[0][2:4] == ["-1", "2"]


def test_statsnoop_json_failed_only() -> None:
    child = gated(STATTER)
    rc, out, err = run_tool(["statsnoop", "-x", "-p", str(child.pid), "--json", "--duration",
                             "2.5"], lambda: release(child))
    assert rc == 0, err
    rows = json_lines(out)
    assert rows and all(r["err"] for r in rows)
    assert any(r["path"] == "/tmp/pybpf-statsnoop-missing" and r["err"] == 2 and
               r["syscall"] in ("newfstatat", "statx", "newstat") for r in rows)
