"""Overload: buffers too small for an event flood, and full maps. Nothing may be lost
silently: what the kernel produced (counted in a kernel map) equals what user space received
plus what was reported lost; a full map's failed updates are visible."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from pybpf import bpf, maps, pid, u32, u64
from tests.reliability.common import Proc, no_traceback, pump_all
from tests.util import requires_root

pytestmark = requires_root

FLOOD = 20000  # getppid() calls by the flood child


def flood_child(n: int = FLOOD) -> subprocess.Popen:
    """A child that, once released (a line on stdin), calls getppid() `n` times and exits."""
    return subprocess.Popen([sys.executable, "-c", "import os, sys\nsys.stdin.readline()\n"
                             f"for _ in range({n}):\n    os.getppid()\n"],
                            stdin=subprocess.PIPE)


def release(child: subprocess.Popen) -> None:
    child.stdin.write(b"\n")
    child.stdin.close()
    child.wait(60)


def two_phase_child(n: int = FLOOD) -> subprocess.Popen:
    """Like flood_child, then (after a second line) 10 more calls: the kernel reports a perf
    ring's lost samples in a record written once there is room again."""
    return subprocess.Popen([sys.executable, "-c", "import os, sys\nsys.stdin.readline()\n"
                             f"for _ in range({n}):\n    os.getppid()\n"
                             "print('done', flush=True)\nsys.stdin.readline()\n"
                             "for _ in range(10):\n    os.getppid()\n"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


class Ev(bpf.Struct):
    seq: u64
    a: u64
    b: u64
    c: u64


def test_ringbuf_flood_received_plus_lost_equals_produced(no_leaks) -> None:
    """A 4 KiB ring buffer (about 100 records) under 20,000 events, read only at the end:
    the program counts what it produced and what submit() refused; user space receives the
    rest, and received + lost == produced."""
    counters = maps.Array(key=u32, value=u64, max_entries=2, name="rel_produced")
    ring = maps.RingBuf(4096, name="rel_ring")
    child = flood_child()
    target = child.pid

    @bpf.tracepoint("syscalls:sys_enter_getppid")
    def flood(ctx):
        if pid() == target:
            counters[0] += 1
            if ring.submit(Ev(seq=counters[0])) < 0:
                counters[1] += 1

    received = 0
    try:
        with flood.attach():
            release(child)
            for _ in range(5):
                received += len(ring.poll(100))
        received += len(ring.poll(0))
        produced, lost = counters[0], counters[1]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        flood.close(maps=True)
        ring.close()
        counters.close()
    assert produced >= FLOOD, produced
    assert lost > 0, "the ring never overflowed: the test did not overload it"
    assert received + lost == produced, (received, lost, produced)
    print(f"\nring buffer flood: produced {produced}, received {received}, lost {lost}")


PERF_PROG = """
    r6 = r1
    call bpf_get_current_pid_tgid
    r0 >>= 32
    if r0 != {target} goto out
    r7 = 0
    *(u32 *)(r10 -4) = r7
    r2 = r10
    r2 += -4
    r1 = map[counters]
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    r8 = *(u64 *)(r0 +0)
    *(u64 *)(r10 -64) = r8
    *(u64 *)(r10 -56) = r7
    *(u64 *)(r10 -48) = r7
    *(u64 *)(r10 -40) = r7
    *(u64 *)(r10 -32) = r7
    *(u64 *)(r10 -24) = r7
    *(u64 *)(r10 -16) = r7
    *(u64 *)(r10 -8) = r7
    r1 = r6
    r2 = map[events]
    r3 = 0xffffffff ll
    r4 = r10
    r4 += -64
    r5 = 64
    call bpf_perf_event_output
    if r0 == 0 goto out
    r1 = 1
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map[counters]
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
out:
    r0 = 0
    exit
"""


def test_perf_buffer_flood_kernel_lost_records(no_leaks) -> None:
    """A perf buffer of one data page per CPU under 20,000 events: the kernel's lost records
    (reader.lost) equal the program's failed outputs, and received + lost == produced."""
    from pybpf import Program, asm, attach

    counters = maps.Array(key=u32, value=u64, max_entries=2, name="rel_pcount")
    events = maps.PerfEventArray(name="rel_perf")
    child = two_phase_child()
    # one CPU: the kernel writes its LOST record into the ring that overflowed, when the next
    # sample on that same CPU fits; a child moved to the other CPU would never trigger it
    os.sched_setaffinity(child.pid, {0})
    reader = events.open_reader(page_count=1)
    prog = None
    received = 0
    try:
        insns = asm.assemble(PERF_PROG.format(target=child.pid),
                             maps={"counters": counters, "events": events})
        prog = Program.load("tracepoint", insns, name="rel_perf")
        with attach.tracepoint(prog, "syscalls", "sys_enter_getppid"):
            child.stdin.write(b"\n")
            child.stdin.flush()
            assert child.stdout.readline() == b"done\n"
            received += len(reader.consume())  # room again
            release(child)  # 10 more samples, after the kernel's lost record
            for _ in range(3):
                received += len(reader.poll(100))
        received += len(reader.consume())
        produced, failed, lost = counters[0], counters[1], reader.lost
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if prog is not None:
            prog.close()
        events.close()
        counters.close()
    assert produced >= FLOOD + 10, produced
    assert lost > 0, "the perf buffer never overflowed: the test did not overload it"
    assert lost == failed, (lost, failed)
    assert received + lost == produced, (received, lost, produced)
    print(f"\nperf buffer flood: produced {produced}, received {received}, lost {lost}")


def test_full_map_update_from_python_is_an_error(no_leaks) -> None:
    from pybpf import MapFullError

    m = maps.Hash(key=u32, value=u64, max_entries=4, name="rel_full")
    try:
        for k in range(4):
            m[k] = k
        with pytest.raises(MapFullError):
            m[99] = 1
        assert len(list(m.keys())) == 4
        m[2] = 7  # replacing an existing key still works
        assert m[2] == 7
    finally:
        m.close()


def _stop_flood_resume(argv: list[str], flood_code: str, ready_text: str | None = None
                       ) -> Proc:
    """Start `argv`, wait until it traces, stop it (SIGSTOP) so that it reads nothing, run the
    flood, resume it and end it with SIGINT."""
    p = Proc(argv)
    try:
        p.wait_output(timeout=30, text=ready_text)
        pump_all([p], 0.5)
        p.signal(signal.SIGSTOP)
        subprocess.run([sys.executable, "-c", flood_code], check=True, timeout=120)
        p.signal(signal.SIGCONT)
        pump_all([p], 3)
        p.signal(signal.SIGINT)
        p.finish(timeout=30)
    finally:
        if p.proc.poll() is None:
            p.kill()
    return p


OPEN_FLOOD = "import os\nfor _ in range(60000):\n    os.close(os.open('/etc/hostname', os.O_RDONLY))"


def _mentions_lost(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in ("lost", "dropped", "missed"))


FILL_MODULE = """\
from pybpf import bpf, maps, u32, u64

class Rec(bpf.Struct):
    n: u64
    last: u64

counts = maps.Hash(key=u32, value=u64, max_entries=4, name="counts")
values = maps.Hash(key=u32, value=u64, max_entries=4, name="values")
recs = maps.Hash(key=u32, value=Rec, max_entries=4, name="recs")
recent = maps.LRUHash(key=u32, value=u64, max_entries=4, name="recent")

@bpf.function
def fill(n: u64) -> u64:
    for i in range(10):
        if i < n:
            counts[i] += 1
            values[i] = i
            recs[i].last = i
            recent[i] = i
    return 0
"""


def test_compiled_program_counts_refused_inserts(tmp_path, no_leaks, capsys) -> None:
    """Ten keys into maps of four entries, through `+=`, `=` and a struct field: the kernel
    refuses six inserts into each hash map, the program counts them, and a tool session
    reports them when it closes. An LRU map makes room instead: nothing to report."""
    from pybpf.session import Session

    path = tmp_path / "fill_maps.py"
    path.write_text(FILL_MODULE)
    ns: dict = {"__name__": "fill_maps"}
    exec(compile(FILL_MODULE, str(path), "exec"), ns)
    fill = ns["fill"]
    session = Session()
    for name in ("counts", "values", "recs", "recent"):
        session.map(ns[name])
    session.program(fill)
    try:
        assert fill.run(10) == 0
        assert fill.refused_updates() == {"counts": 6, "values": 6, "recs": 6}
        assert fill.run(10) == 0  # the same keys again: present ones update, new ones fail
        assert fill.refused_updates() == {"counts": 12, "values": 12, "recs": 12}
        assert sorted(ns["counts"].values()) == [2, 2, 2, 2]
    finally:
        session.close()
        fill.close(maps=True)
    err = capsys.readouterr().err
    for name in ("counts", "values", "recs"):
        assert f"pybpf: 12 updates of map '{name}' failed: the map was full" in err, err
    assert "recent" not in err, err


def test_tool_reports_lost_events() -> None:
    """opensnoop (1 MiB ring) is stopped while 60,000 opens happen: events are dropped, and
    the tool must say so."""
    p = _stop_flood_resume(["opensnoop"], OPEN_FLOOD)
    assert no_traceback(p.stderr), p.stderr
    lines = [ln for ln in p.stdout.splitlines() if "hostname" in ln]
    assert len(lines) < 60000, "nothing was lost: the test did not overload the tool"
    assert _mentions_lost(p.stdout + p.stderr), p.stderr[-2000:]


def test_trace_reports_lost_events() -> None:
    """pybpf trace, stopped while 200,000 printf records are produced: it says "Lost N
    events" (as bpftrace does), and printed + lost == produced (counted in kernel maps)."""
    p = _stop_flood_resume(
        ["trace", "tracepoint:syscalls:sys_enter_getppid { @produced = count(); "
                  "printf(\"%d %d %d %d\\n\", pid, tid, cpu, nsecs); } "
                  "interval:ms:200 { @ticks = count(); printf(\"tick\\n\"); }"],
        "import os\nfor _ in range(200000):\n    os.getppid()", ready_text="tick")
    assert no_traceback(p.stderr), p.stderr
    # (%d prints nsecs as a C int, as bpftrace does: negative half the time)
    printed = len(re.findall(r"^\d+ \d+ \d+ -?\d+$", p.stdout, re.M))
    lost = sum(int(m) for m in re.findall(r"^Lost (\d+) events$", p.stdout, re.M))
    ticks = len(re.findall(r"^tick$", p.stdout, re.M))
    produced = sum(int(re.search(rf"^@{name}: (\d+)$", p.stdout, re.M).group(1))
                   for name in ("produced", "ticks"))  # the ticks' records share the ring
    assert printed < 200000, "nothing was lost: the test did not overload pybpf trace"
    assert lost > 0 and printed + ticks + lost == produced, (printed, ticks, lost, produced)
    print(f"\npybpf trace flood: produced {produced}, printed {printed + ticks}, lost {lost}")


def test_trace_reports_full_map() -> None:
    """20,000 distinct keys into a map of 10,240 entries: the updates that fail must be
    reported."""
    code = "import os\nfor _ in range(20000):\n    os.getppid()"
    p = Proc(["trace", "-c", f"{sys.executable} -c \"{code}\"",
              "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[nsecs] = count(); }"])
    try:
        rc = p.finish(timeout=120)
    finally:
        if p.proc.poll() is None:
            p.kill()
    assert rc == 0 and no_traceback(p.stderr), p.stderr
    keys = sum(1 for ln in p.stdout.splitlines() if ln.startswith("@["))
    assert keys == 10240, keys  # the map filled up
    assert "Warning: 9760 updates of @ failed: the map is full" in p.stderr, p.stderr[-2000:]
