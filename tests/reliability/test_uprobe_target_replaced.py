"""A uprobe's binary deleted or replaced while attached (issue 26 item 4): the command keeps
counting the process that runs the old file (the kernel's uprobe is on the inode), ends
normally, and leaves no uprobe event and no program behind. A new file at the same path is
a new inode, which the probe does not see (bpftrace's behaviour as well)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

from tests.reliability.common import Proc, held_objects, no_traceback, tracefs_entries, wait_gone
from tests.util import requires_root

pytestmark = requires_root

SOURCE = r"""
#include <stdio.h>
#include <unistd.h>
volatile int sink;
__attribute__((noinline)) int work(int i) { return i * 2; }
int main(void) {
    char line[8];
    if (!fgets(line, sizeof line, stdin)) return 2;
    for (int i = 0; i < 50; i++) sink += work(i);
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return 2;  /* the file is replaced meanwhile */
    for (int i = 0; i < 50; i++) sink += work(i);
    return 0;
}
"""


def test_deleted_and_replaced_binary(tmp_path: Path) -> None:
    src = tmp_path / "target.c"
    src.write_text(SOURCE)
    exe = tmp_path / "target"
    subprocess.run(["gcc", "-O1", "-o", str(exe), str(src)], check=True)
    spare = tmp_path / "spare"
    shutil.copy(exe, spare)
    p = Proc(["trace", f'BEGIN {{ printf("go\\n"); }} uprobe:{exe}:work {{ @calls = count(); }}'])
    child = other = None
    try:
        p.wait_output(timeout=60, stream="out", text="go")
        held = held_objects(p.pid)
        child = subprocess.Popen([str(exe)], stdin=subprocess.PIPE)
        assert child.stdin is not None
        child.stdin.write(b"1\n")
        child.stdin.flush()
        time.sleep(0.5)
        exe.unlink()  # deleted while attached and running
        shutil.copy(spare, exe)  # and a new file at its path
        other = subprocess.run([str(exe)], input=b"1\n2\n", timeout=30)  # not traced
        assert other.returncode == 0
        child.stdin.write(b"2\n")
        child.stdin.close()
        assert child.wait(30) == 0
        p.signal(2)
        rc = p.finish(timeout=30)
    finally:
        if child is not None and child.poll() is None:
            child.kill()
        if p.proc.poll() is None:
            p.kill()
    assert rc == 0 and no_traceback(p.stderr), p.stderr
    found = re.search(r"^@calls: (\d+)$", p.stdout, re.M)
    assert found and int(found.group(1)) == 100, p.stdout  # the old inode's process only
    assert not wait_gone({k: v for k, v in held.items() if k != "perf_event"}, timeout=5)
    assert not tracefs_entries(p.pid)
