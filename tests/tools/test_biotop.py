"""biotop: a child's O_DIRECT writes show as a row with its pid and comm, on its disk."""

from __future__ import annotations

import subprocess

from tests.tools.helpers import ROOT, comm_of, gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
WRITER = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
          "from tests.tools.disk_io import direct_writes\nprint(direct_writes(count=64))\n")
HEADER = ["PID", "COMM", "D", "MAJ", "MIN", "DISK", "I/O", "Kbytes", "AVGms"]


def test_biotop_table_shows_the_writer() -> None:
    child = gated(WRITER, stdout=subprocess.PIPE)
    comm = comm_of(child.pid)
    # no -p: the writer's row is found among every process's (-r: all of them)
    rc, out, err = run_tool(["biotop", "-C", "-r", "1000", "2", "1"], lambda: release(child))
    disk = child.stdout.read().decode().strip()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing... Output every 2 secs. Hit Ctrl-C to end"
    assert lines[-1] == "Detaching..."
    head = next(i for i, ln in enumerate(lines) if ln.startswith("PID "))
    assert " loadavg: " in lines[head - 2]
    assert lines[head].split() == HEADER
    rows = [ln.split() for ln in lines[head + 1:-1] if ln.strip()]
    mine = [r for r in rows if r[0] == str(child.pid)]
    writes = [r for r in mine if r[2] == "W" and r[5] == disk]
    assert writes, out
    assert all(r[1] == comm for r in mine)
    assert int(writes[0][6]) >= 64 and int(writes[0][7]) >= 64 * 4
    kbytes = [int(r[7]) for r in rows]
    assert kbytes == sorted(kbytes, reverse=True)  # sorted by Kbytes


def test_biotop_pid_filter_json() -> None:
    child = gated(WRITER, stdout=subprocess.PIPE)
    comm = comm_of(child.pid)
    rc, out, err = run_tool(["biotop", "-p", str(child.pid), "--json", "2", "1"],
                            lambda: release(child))
    assert rc == 0, err
    assert "Detaching" not in out
    rows = json_lines(out)
    assert rows and {r["pid"] for r in rows} == {child.pid}, out  # -p: nobody else
    writes = [r for r in rows if r["d"] == "W"]
    assert writes and writes[0]["comm"] == comm and writes[0]["kbytes"] > 0
    assert writes[0]["io"] >= 64


def test_biotop_bad_input() -> None:
    rc, _, err = run_tool(["biotop", "-p", "abc"], ready=False)
    assert rc == 2 and "-p/--pid" in err
    rc, _, err = run_tool(["biotop", "-r", "0"], ready=False)
    assert rc == 2 and "-r/--maxrows" in err
