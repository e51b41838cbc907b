"""wqlat: a loop device of the test's own has a workqueue of its own ("loopN"), on which
each O_DIRECT write to the device queues a work item; -w picks that workqueue alone."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
WRITES = 20
WRITER = ("import mmap, os, sys\nbuf = mmap.mmap(-1, 4096)\nbuf.write(b'x' * 4096)\n"
          "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)\n"
          f"for i in range({WRITES}):\n    os.pwrite(fd, buf, i * 4096)\nos.close(fd)\n")
HIST_HEAD = "     usecs               : count     distribution"


@pytest.fixture
def loop_dev(tmp_path: Path) -> Iterator[str]:
    if shutil.which("losetup") is None or not os.path.exists("/dev/loop-control"):
        pytest.skip("needs losetup and loop devices")
    img = tmp_path / "wq.img"
    img.write_bytes(b"\0" * (1 << 20))
    res = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot set up a loop device: {res.stderr.strip()}")
    dev = res.stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def _total(lines: list[str]) -> int:
    return sum(int(ln.split(":")[1].split()[0]) for ln in lines if "->" in ln)


def test_wqlat_one_workqueue(loop_dev: str) -> None:
    name = os.path.basename(loop_dev)
    writer = gated(WRITER, loop_dev)
    rc, out, err = run_tool(["wqlat", "-W", "-w", name, "3", "1"], lambda: release(writer))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing work queue request latency time... Hit Ctrl-C to end."
    assert [ln for ln in lines if ln.startswith("wqname = ")] == [f"wqname = {name}"]
    at = lines.index(f"wqname = {name}")
    assert lines[at + 1] == HIST_HEAD
    assert 1 <= _total(lines[at + 2:]) <= WRITES + 5


def test_wqlat_json_filter_and_per_workqueue(loop_dev: str) -> None:
    name = os.path.basename(loop_dev)
    # nothing written to the device: its workqueue alone has no work, whatever else runs
    rc, out, err = run_tool(["wqlat", "-w", name, "--json", "2", "1"])
    assert rc == 0, err
    assert json_lines(out) == []
    writer = gated(WRITER, loop_dev)
    rc, out, err = run_tool(["wqlat", "-W", "-N", "--json", "3", "1"],
                            lambda: release(writer))
    assert rc == 0, err
    rows = {r["wqname"]: r for r in json_lines(out)}
    assert name in rows, sorted(rows)
    assert rows[name]["unit"] == "nsecs"
    assert sum(b["count"] for b in rows[name]["buckets"]) >= 1


def test_wqlat_bad_arguments() -> None:
    rc, out, err = run_tool(["wqlat", "-w", "x" * 30], ready=False)
    assert rc == 2 and "workqueue name must be" in err
    rc, out, err = run_tool(["wqlat", "-N", "-m"], ready=False)
    assert rc == 2 and "not allowed with" in err
