from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from tests.tools.disk_io import direct_writes
from tests.tools.helpers import ROOT, run_tool
from tests.util import requires_root

pytestmark = requires_root


def _activity(tmp_path) -> dict[str, object]:
    """Exec, exit with a code, open a file, block I/O, a TCP session and a signal."""
    seen: dict[str, object] = {}
    marker = tmp_path / "snapshot-marker.txt"
    marker.write_text("x")
    p = subprocess.Popen(["sh", "-c", f"cat {marker} > /dev/null; exit 5"])
    p.wait()
    seen["sh"] = p.pid
    for _ in range(300):  # a file opened most (the list keeps the top 50)
        marker.open().close()
    seen["marker"] = str(marker)
    seen["disk"] = direct_writes(count=32)
    tcp = subprocess.run([sys.executable, str(ROOT / "tests/tools/tcp_load.py"), "4", "70000",
                          "0"], capture_output=True, text=True, check=True)
    seen["ports"] = [int(x) for x in tcp.stdout.split()]
    q = subprocess.Popen(["sleep", "5"])
    time.sleep(0.1)
    os.kill(q.pid, signal.SIGTERM)
    q.wait()
    seen["killed"] = q.pid
    return seen


def test_snapshot_json_and_html(tmp_path) -> None:
    html = tmp_path / "report.html"
    seen: dict[str, object] = {}
    rc, out, err = run_tool(["snapshot", "-d", "3", "--json", "--html", str(html)],
                            lambda: seen.update(_activity(tmp_path)))
    assert rc == 0, err
    (line,) = [ln for ln in out.splitlines() if ln.startswith("{")]
    r = json.loads(line)
    assert r["duration"] >= 2.5 and r["syscalls"]["total"] > 0
    assert r["syscalls"]["by_process"][0]["top"]
    exits = {e["pid"]: e for e in r["processes"]["exits"]}
    assert exits[seen["sh"]]["exit_code"] == 5
    assert exits[seen["killed"]]["description"] == "signal 15 (SIGTERM)"
    execs = [e for e in r["processes"]["execs"] if e["pid"] == seen["sh"]]
    assert execs and execs[0]["args"][0] in ("/bin/sh", "/usr/bin/sh")
    assert any(f["path"] == seen["marker"] and f["opens"] >= 300 for f in r["files"])
    disk = next(d for d in r["block_io"] if d["disk"] == seen["disk"])
    assert disk["count"] >= 32 and sum(b["count"] for b in disk["hist"]["buckets"]) >= 32
    assert r["runqueue"]["buckets"]
    sport, cport = seen["ports"]
    assert r["tcp"]["opened"] >= 2 and r["tcp"]["closed"] >= 2
    assert any(s["lport"] == cport and s["rport"] == sport and s["rx_kb"] == 68
               for s in r["tcp"]["sessions"])
    assert any(s["signal"] == "SIGTERM" and s["target"] == "sleep" for s in r["signals"])
    assert r["oom_kills"] == []
    page = html.read_text()
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    titles = [ET.fromstring(s).find("{http://www.w3.org/2000/svg}title").text for s in svgs]
    assert f"Block I/O latency: {seen['disk']}" in titles
    assert "On-CPU stacks" in titles
    assert "<script src" not in page and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", "")


def test_snapshot_text_report(tmp_path) -> None:
    rc, out, err = run_tool(["snapshot", "-d", "2"], lambda: direct_writes(count=8),
                            ready=False)
    assert rc == 0, err
    assert "collecting for 2 s" in err
    for title in ("== Top syscalls by process", "== New processes:", "== Files opened most",
                  "== Block I/O latency", "== Run queue latency", "== TCP: ", "== Signals: ",
                  "== OOM kills: 0"):
        assert title in out, title
    assert "     usecs               : count     distribution" in out
