"""biopattern: O_DIRECT writes in order on a loop device of the test's own show as
sequential, the same writes in reverse order as random; the real disk's writes are counted."""

from __future__ import annotations

import mmap
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.tools.disk_io import direct_writes
from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root
BLOCK = 4096
WRITES = 256
HEADER = ["DISK", "%RND", "%SEQ", "COUNT", "KBYTES"]


@pytest.fixture(scope="module")
def loop_disk() -> Iterator[str]:
    """A loop device on a file of the test's own: no other I/O reaches it."""
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("no loop devices here")
    backing = f"/var/tmp/pybpf-biopattern-{os.getpid()}"
    with open(backing, "wb") as f:
        f.truncate(WRITES * BLOCK)
    try:
        dev = subprocess.run(["losetup", "-f", "--show", backing], check=True,
                             capture_output=True, text=True).stdout.strip()
        try:
            yield os.path.basename(dev)
        finally:
            subprocess.run(["losetup", "-d", dev], check=False)
    finally:
        os.unlink(backing)


def write_blocks(disk: str, order: list[int]) -> None:
    """Synchronous O_DIRECT writes of one block each at these block numbers of /dev/`disk`."""
    buf = mmap.mmap(-1, BLOCK)  # page aligned, as O_DIRECT wants
    buf.write(b"b" * BLOCK)
    fd = os.open(f"/dev/{disk}", os.O_WRONLY | os.O_DIRECT)
    try:
        for i in order:
            os.pwrite(fd, buf, i * BLOCK)
    finally:
        os.close(fd)


def rows_of(out: str, disk: str, timestamp: bool = False) -> list[list[str]]:
    lines = out.splitlines()
    assert lines[0] == "Tracing block device I/O requested seeks... Hit Ctrl-C to end."
    assert lines[1].split() == (["TIME"] if timestamp else []) + HEADER
    rows = [ln.split() for ln in lines[2:] if ln.strip()]
    return [r[1:] if timestamp else r for r in rows if r[1 if timestamp else 0] == disk]


def test_biopattern_sequential(loop_disk: str) -> None:
    rc, out, err = run_tool(["biopattern", "-T", "-d", loop_disk, "2", "1"],
                            lambda: write_blocks(loop_disk, list(range(WRITES))))
    assert rc == 0, err
    rows = rows_of(out, loop_disk, timestamp=True)
    assert len(rows) == 1, out
    _, rnd, seq, count, kbytes = rows[0]
    # the first write has no predecessor; each other starts where the one before ended
    assert int(count) >= WRITES - 1 and int(seq) >= 95 and int(rnd) <= 5, out
    assert int(kbytes) >= (WRITES - 1) * BLOCK // 1024, out


def test_biopattern_random(loop_disk: str) -> None:
    rc, out, err = run_tool(["biopattern", "-d", loop_disk, "2", "1"],
                            lambda: write_blocks(loop_disk, list(reversed(range(WRITES)))))
    assert rc == 0, err
    rows = rows_of(out, loop_disk)
    assert len(rows) == 1, out
    _, rnd, seq, count, _ = rows[0]
    assert int(count) >= WRITES - 1 and int(rnd) >= 95 and int(seq) <= 5, out


def test_biopattern_json_real_disk() -> None:
    disk = direct_writes(count=1)  # the disk under /var/tmp (a test run on it first)
    rc, out, err = run_tool(["biopattern", "--json", "-d", disk, "2", "1"],
                            lambda: direct_writes(count=64))
    assert rc == 0, err
    rows = json_lines(out)
    assert rows and {r["disk"] for r in rows} == {disk}, out
    r = rows[0]
    assert r["count"] >= 64 and r["count"] == r["random"] + r["sequential"]
    assert 99 <= r["rnd_pct"] + r["seq_pct"] <= 100 and r["kbytes"] >= 64 * 4


def test_biopattern_bad_input() -> None:
    rc, out, err = run_tool(["biopattern", "-d", "pybpf-no-such-disk", "1", "1"], ready=False)
    assert rc == 1 and err.strip() == "pybpf biopattern: no such disk 'pybpf-no-such-disk'"
    rc, _, err = run_tool(["biopattern", "--no-such-flag"], ready=False)
    assert rc == 2 and "unrecognized arguments" in err
    rc, _, err = run_tool(["biopattern", "0"], ready=False)
    assert rc == 2 and "interval" in err
