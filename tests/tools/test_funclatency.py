"""funclatency in uprobe mode: a libc function with a known call count, and a function of a
small program the test builds (2 ms per call)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
CALLER = "import os\nfor _ in range(500):\n    os.getppid()\n"
PROGRAM = r"""
#include <stdio.h>
#include <time.h>
__attribute__((noinline)) int pybpf_work(int i) {
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, 0);
    return i + 1;
}
int main(void) {
    char line[8];
    int n = 0;
    if (!fgets(line, sizeof line, stdin)) return 1;
    for (int i = 0; i < 40; i++) n = pybpf_work(n);
    return n == 40 ? 0 : 1;
}
"""


def test_funclatency_libc_call_count() -> None:
    child = gated(CALLER)
    rc, out, err = run_tool(["funclatency", "-p", str(child.pid), "-d", "2.5", "c:getppid"],
                            lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == 'Tracing 1 functions for "c:getppid"... Hit Ctrl-C to end.'
    assert "     nsecs               : count     distribution" in lines
    avg = next(ln for ln in lines if ln.startswith("avg = "))
    assert avg.endswith("count: 500")
    assert lines[-1] == "Detaching..."


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_funclatency_of_a_built_program(tmp_path: Path) -> None:
    src = tmp_path / "work.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "work"
    subprocess.run(["cc", "-O1", "-o", str(exe), str(src)], check=True, timeout=30)
    child = subprocess.Popen([str(exe)], stdin=subprocess.PIPE)
    rc, out, err = run_tool(["funclatency", "-m", "--json", "-d", "2.5",
                             f"{exe}:pybpf_work"], lambda: release(child))
    assert child.returncode == 0
    assert rc == 0, err
    (row,) = json_lines(out)
    assert row["count"] == 40 and row["unit"] == "msecs"
    assert sum(b["count"] for b in row["buckets"] if b["low"] >= 2) >= 36  # 2 ms each
    rc, _, err = run_tool(["funclatency", f"{exe}:no_such_function"], ready=False)
    assert rc == 1 and err.startswith("pybpf funclatency: ") and "Traceback" not in err
