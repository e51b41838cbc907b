from __future__ import annotations

from tests.tools.disk_io import direct_writes
from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def test_biolatency_text_histogram() -> None:
    rc, out, err = run_tool(["biolatency", "2", "1"], lambda: direct_writes(count=64))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing block device I/O... Hit Ctrl-C to end."
    head = lines.index("     usecs               : count     distribution")
    rows = [ln for ln in lines[head + 1:] if "->" in ln]
    assert rows[0].startswith("         0 -> 1          : ")
    assert sum(int(r.split(":")[1].split("|")[0]) for r in rows) >= 64


def test_biolatency_per_disk_json() -> None:
    disks: list[str] = []
    rc, out, err = run_tool(["biolatency", "-D", "-m", "--json", "2", "1"],
                            lambda: disks.append(direct_writes(count=32)))
    assert rc == 0, err
    rows = {r["disk"]: r for r in json_lines(out)}
    mine = rows[disks[0]]
    assert mine["unit"] == "msecs" and mine["count"] >= 32
    assert sum(b["count"] for b in mine["buckets"]) == mine["count"]
