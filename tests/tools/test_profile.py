from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

from tests.tools.helpers import comm_of, json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root
SPIN = "import time\nt = time.time()\nwhile time.time() - t < {secs}:\n    pass\n"


def test_profile_folded_samples_the_busy_child(tmp_path) -> None:
    child = subprocess.Popen([sys.executable, "-c", SPIN.format(secs=10)])
    try:
        svg = tmp_path / "flame.svg"
        rc, out, err = run_tool(["profile", "-f", "-F", "99", "-p", str(child.pid),
                                 "--svg", str(svg), "2"], ready=False)
    finally:
        child.kill()
        child.wait()
    assert rc == 0, err
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("python") for ln in lines)
    samples = sum(int(ln.rsplit(" ", 1)[1]) for ln in lines)
    assert 15 <= samples <= 2 * 99 * 2 + 20  # ~99 Hz for ~2 s on one CPU (less when busy)
    root = ET.parse(svg).getroot()
    assert root.find("{http://www.w3.org/2000/svg}script") is not None


def test_profile_default_layout_and_json() -> None:
    child = subprocess.Popen([sys.executable, "-c", SPIN.format(secs=10)])
    comm = comm_of(child.pid)
    try:
        rc, out, err = run_tool(["profile", "-p", str(child.pid), "1"])
        rc2, out2, err2 = run_tool(["profile", "--json", "-p", str(child.pid), "1"])
    finally:
        child.kill()
        child.wait()
    assert rc == 0, err
    assert out.splitlines()[0] == (f"Sampling at 49 Hertz of PID [{child.pid}] by user + kernel "
                                   "stack for 1 secs.")
    assert f"    -                {comm} ({child.pid})" in out.splitlines()
    assert rc2 == 0, err2
    rows = json_lines(out2)
    assert rows and all(r["pid"] == child.pid and r["comm"] == comm for r in rows)
    assert sum(r["value"] for r in rows) >= 5
