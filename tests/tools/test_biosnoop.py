from __future__ import annotations

import subprocess

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
WRITER = ("import sys\nsys.path.insert(0, {root!r})\n"
          "from tests.tools.disk_io import direct_writes\nprint(direct_writes(count={n}, "
          "size={size}))\n")


def _writer(n: int, size: int) -> subprocess.Popen[bytes]:
    from tests.tools.helpers import ROOT

    return gated(WRITER.format(root=str(ROOT), n=n, size=size), stdout=subprocess.PIPE)


def test_biosnoop_lines_for_our_writes() -> None:
    child = _writer(16, 8192)
    rc, out, err = run_tool(["biosnoop", "-Q", "--duration", "2.5"], lambda: release(child))
    assert rc == 0, err
    disk = child.stdout.read().decode().strip()
    lines = out.splitlines()
    assert lines[0].split() == ["TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES",
                                "QUE(ms)", "LAT(ms)"]
    mine = [ln.split() for ln in lines[1:] if ln.split()[2] == str(child.pid)]
    ours = [f for f in mine if f[6] == "8192"]  # (metadata writes of O_SYNC may join them)
    assert len(ours) >= 16
    for f in ours:
        assert f[3] == disk and f[4] == "W" and float(f[8]) >= 0


def test_biosnoop_json() -> None:
    child = _writer(8, 4096)
    rc, out, err = run_tool(["biosnoop", "--json", "--duration", "2.5"], lambda: release(child))
    assert rc == 0, err
    mine = [e for e in json_lines(out) if e["pid"] == child.pid]
    assert len([e for e in mine if e["bytes"] == 4096 and e["type"] == "W"]) >= 8
    assert all(e["lat_ms"] >= 0 for e in mine)
