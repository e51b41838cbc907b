"""Concurrency: eight tracers at once on the same tracepoints (syscalls:sys_enter_openat and
sys_exit_openat), each with its own programs and maps, each gets its own complete results for
a known workload; and they all leave the kernel as they found it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.reliability.common import (
    KINDS,
    Proc,
    held_objects,
    no_traceback,
    pump_all,
    wait_gone,
)
from tests.util import requires_root

pytestmark = requires_root

OPENS = 500


def test_eight_tracers_on_the_same_tracepoints() -> None:
    # a short path: one-liners read 64 bytes of a string by default, as bpftrace does
    fd, name = tempfile.mkstemp(prefix="pybpf-rel-", dir="/tmp")
    os.close(fd)
    target = Path(name)
    try:
        _eight_tracers(target)
    finally:
        target.unlink()


def _eight_tracers(target: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import os, sys\nsys.stdin.readline()\n"
                              f"for _ in range({OPENS}):\n"
                              f"    os.close(os.open({str(target)!r}, os.O_RDONLY))\n"],
                             stdin=subprocess.PIPE)
    pid = child.pid
    snoops = [Proc(["opensnoop", "--json", "-p", str(pid)]) for _ in range(3)]
    snoops.append(Proc(["opensnoop", "--json"]))  # unfiltered: picks the child's out itself
    traces = [Proc(["trace", f"tracepoint:syscalls:sys_exit_openat /pid == {pid}/ "
                             "{ @opens = count(); }"]),
              Proc(["trace", f"tracepoint:syscalls:sys_enter_openat /pid == {pid}/ "
                             "{ @[str(args.filename)] = count(); }"]),
              Proc(["trace", f"tracepoint:syscalls:sys_enter_openat /pid == {pid}/ "
                             "{ @n = count(); } tracepoint:syscalls:sys_exit_openat "
                             f"/pid == {pid}/ {{ @ok = sum(args.ret >= 0 ? 1 : 0); }}"]),
              Proc(["trace", f"tracepoint:syscalls:sys_enter_openat /pid == {pid}/ "
                             "{ printf(\"open %s\\n\", str(args.filename)); }"])]
    procs = snoops + traces
    helds = []
    try:
        for p in snoops:
            p.wait_output(timeout=90, stream="err", text="tracing")
        for p in traces:
            p.wait_output(timeout=90, stream="out", text="Attaching")
        pump_all(procs, 3)  # trace attaches right after its message
        helds = [held_objects(p.pid) for p in procs]
        child.stdin.write(b"\n")
        child.stdin.close()
        while child.poll() is None:
            pump_all(procs, 0.2)
        assert child.returncode == 0
        pump_all(procs, 2)
        for p in procs:
            p.signal(signal.SIGINT)
        rcs = [p.finish(timeout=30) for p in procs]
    finally:
        for p in procs:
            if p.proc.poll() is None:
                p.kill()
        if child.poll() is None:
            child.kill()
            child.wait()
    for p, rc in zip(procs, rcs, strict=True):
        assert rc == 0 and no_traceback(p.stderr), (p.argv, rc, p.stderr[-2000:])
    for p in snoops:
        events = [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]
        mine = [e for e in events if e["pid"] == pid and e["path"] == str(target)]
        assert len(mine) == OPENS, (p.argv, len(mine))
        assert all(e["err"] == 0 and e["fd"] >= 0 for e in mine)
    out = [p.stdout for p in traces]
    assert f"@opens: {OPENS}" in out[0], out[0]
    assert f"@[{target}]: {OPENS}" in out[1], out[1]
    assert f"@n: {OPENS}" in out[2] and f"@ok: {OPENS}" in out[2], out[2]
    assert out[3].count(f"open {target}\n") == OPENS, out[3][-500:]
    # distinct programs and maps per tracer, all gone afterwards
    progs = [h["prog"] for h in helds]
    assert all(progs) and len(set().union(*progs)) == sum(len(x) for x in progs)
    left = wait_gone({k: set().union(*(h[k] for h in helds)) for k in KINDS}, timeout=5)
    assert not left, left
