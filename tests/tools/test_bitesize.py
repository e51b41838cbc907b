from __future__ import annotations

from tests.tools.disk_io import direct_writes
from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def test_bitesize_histogram_per_process() -> None:
    rc, out, err = run_tool(["bitesize", "2", "1"],
                            lambda: direct_writes(count=12, size=65536))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing block I/O... Hit Ctrl-C to end."
    start = lines.index("Process Name = python") if "Process Name = python" in lines else \
        next(i for i, ln in enumerate(lines) if ln.startswith("Process Name = python"))
    assert lines[start + 1] == "     Kbytes              : count     distribution"
    row = next(ln for ln in lines[start + 2:] if ln.startswith("        64 -> 127"))
    assert int(row.split(":")[1].split("|")[0]) >= 12


def test_bitesize_json() -> None:
    rc, out, err = run_tool(["bitesize", "--json", "2", "1"],
                            lambda: direct_writes(count=8, size=16384))
    assert rc == 0, err
    rows = [r for r in json_lines(out) if r["comm"].startswith("python")]
    assert any(b["low"] == 16 and b["count"] >= 8 for r in rows for b in r["buckets"])
