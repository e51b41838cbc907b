"""gethostlatency: a Python child looks up localhost with socket.getaddrinfo (libc's
getaddrinfo, answered from /etc/hosts: no network)."""

from __future__ import annotations

from tests.tools.helpers import comm_of, gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
LOOKUP = "import socket, sys\nsocket.getaddrinfo(sys.argv[1], 80)\n"


def test_gethostlatency_rows() -> None:
    child = gated(LOOKUP, "localhost")
    comm = comm_of(child.pid)
    rc, out, err = run_tool(["gethostlatency", "--duration", "2"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "PID", "COMM", "LATms", "HOST"]
    rows = [ln.split() for ln in lines[1:]]
    mine = [r for r in rows if r[1] == str(child.pid)]
    assert len(mine) == 1, out
    (row,) = mine
    assert row[2] == comm and row[4] == "localhost"
    assert float(row[3]) >= 0 and len(row[0].split(":")) == 3


def test_gethostlatency_pid_filter_json() -> None:
    child = gated(LOOKUP, "localhost")
    other = gated(LOOKUP, "127.0.0.1")

    def cause() -> None:
        release(other)
        release(child)

    rc, out, err = run_tool(["gethostlatency", "-p", str(child.pid), "--json",
                             "--duration", "2"], cause)
    assert rc == 0, err
    rows = json_lines(out)
    assert [(r["pid"], r["host"]) for r in rows] == [(child.pid, "localhost")]  # not `other`
    assert rows[0]["lat_ms"] >= 0 and rows[0]["comm"]


def test_gethostlatency_bad_arguments() -> None:
    rc, out, err = run_tool(["gethostlatency", "-p", "0"], ready=False)
    assert rc == 2 and out == ""
    assert err.strip().splitlines()[-1].startswith("pybpf gethostlatency: error: argument -p")
    rc, out, err = run_tool(["gethostlatency", "-l", "/nonexistent/libc.so.6"], ready=False)
    assert rc == 1 and out == ""
    assert err.strip().splitlines() == ["pybpf gethostlatency: binary "
                                        "'/nonexistent/libc.so.6' does not exist"]
