from __future__ import annotations

import subprocess

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
OPENER = "import sys\nfor p in sys.argv[1:]:\n    try: open(p).close()\n" \
         "    except OSError: pass\n"


def _start_opener(*paths: str) -> subprocess.Popen[bytes]:
    return gated(OPENER, *paths)


def test_opensnoop_shows_the_path_we_open(tmp_path) -> None:
    target = tmp_path / "pybpf-opensnoop-marker.txt"
    target.write_text("x")
    child = _start_opener(str(target), str(tmp_path / "missing-file"))
    rc, out, err = run_tool(["opensnoop", "-p", str(child.pid), "-d", "2.5"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "COMM", "FD", "ERR", "PATH"]
    row = next(line for line in lines if line.endswith(str(target)))
    pid, comm, fd, errno_ = row.split()[:4]
    assert int(pid) == child.pid and comm == "python" or comm.startswith("python")
    assert int(fd) >= 3 and errno_ == "0"
    missing = next(line for line in lines if line.endswith("missing-file"))
    assert missing.split()[2:4] == ["-1", "2"]
    assert all(line.split()[0] == str(child.pid) for line in lines[1:] if line.strip())


def test_opensnoop_failed_only_json(tmp_path) -> None:
    target = tmp_path / "exists.txt"
    target.write_text("x")
    child = _start_opener(str(target), str(tmp_path / "nope"))
    rc, out, err = run_tool(["opensnoop", "-x", "--json", "-p", str(child.pid), "-d", "2.5"],
                            lambda: release(child))
    assert rc == 0, err
    events = json_lines(out)
    assert any(e["path"].endswith("nope") and e["err"] == 2 and e["fd"] == -1 for e in events)
    assert not any(e["path"] == str(target) for e in events)
    assert all(e["fd"] == -1 for e in events)
