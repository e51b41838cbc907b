"""Compiled Python programs attached to real events the test causes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pybpf import CompileError, NotSupportedError
from tests.util import requires_root

pytestmark = requires_root


PROGRAMS = ("count_exec", "count_syscalls", "remember_next", "exec_events", "parent_of",
            "kprobe_open")


@pytest.fixture(scope="module")
def compiled():
    """The programs' module, compiled up front so that the maps it creates (module maps, the
    ring buffer of submit()) exist before each test's leak check; all closed at the end."""
    from tests.progs import events

    for name in PROGRAMS:
        assert getattr(events, name).insns
    yield events
    for name in PROGRAMS:
        getattr(events, name).close(maps=True)
    for m in (events.exec_counts, events.syscalls, events.by_comm, events.switch_seen,
              events.parents):
        m.close()


@pytest.fixture
def progs(compiled):
    yield compiled
    for name in PROGRAMS:
        getattr(compiled, name).close()
    for m in (compiled.exec_counts, compiled.syscalls, compiled.by_comm,
              compiled.switch_seen, compiled.parents):
        m.clear()


@pytest.mark.usefixtures("no_leaks")
def test_exec_counts_per_pid(progs):
    with progs.count_exec.attach():
        children = [subprocess.Popen(["/bin/true"]) for _ in range(3)]
        for c in children:
            c.wait()
    for c in children:
        assert progs.exec_counts[c.pid] == 1


@pytest.mark.usefixtures("no_leaks")
def test_syscall_counts_of_a_child(progs):
    code = ("import ctypes, os\nctypes.CDLL(None).prctl(15, b'pybpf_sc_test')\n"
            "for _ in range(1234): os.getppid()")
    with progs.count_syscalls.attach():
        child = subprocess.Popen([sys.executable, "-c", code])
        assert child.wait() == 0
    getppid = 110 if os.uname().machine == "x86_64" else 173
    assert progs.syscalls[child.pid, getppid] == 1234
    assert sum(progs.by_comm["pybpf_sc_test"]) >= 1234


@pytest.mark.usefixtures("no_leaks")
def test_sched_switch_fields_through_btf(progs):
    with progs.remember_next.attach():
        child = subprocess.Popen(["sleep", "0.2"])
        child.wait()
        time.sleep(0.05)
    assert progs.switch_seen[child.pid] == "sleep"


@pytest.mark.usefixtures("no_leaks")
def test_ring_buffer_events_with_kernel_struct_reads(progs):
    with progs.exec_events.attach():
        child = subprocess.Popen(["/bin/echo", "hi"], stdout=subprocess.DEVNULL)
        child.wait()
        events = progs.exec_events.poll(1000)
        deadline = time.monotonic() + 2
        while not any(e.filename == "/bin/echo" for e in events) and \
                time.monotonic() < deadline:
            events += progs.exec_events.poll(200)
    mine = [e for e in events if e.filename == "/bin/echo"]
    assert mine, events
    ev = mine[0]
    assert ev.pid == child.pid and ev.ppid == os.getpid()
    assert ev.ts > 0


@pytest.mark.usefixtures("no_leaks")
def test_current_task_parent(progs):
    with progs.parent_of.attach():
        os.getppid()
    assert progs.parents[os.getpid()] == os.getppid()


@pytest.mark.usefixtures("no_leaks")
def test_kprobe_is_not_supported_here(progs):
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    with pytest.raises(NotSupportedError, match="kprobes"):
        progs.kprobe_open.attach()


def test_unknown_tracepoint_is_a_compile_error():
    from pybpf import bpf

    @bpf.tracepoint("sched:sched_process_exek")
    def bad(ctx):
        pass

    with pytest.raises(CompileError, match="unknown tracepoint sched:sched_process_exek"):
        assert bad.insns


@pytest.mark.usefixtures("no_leaks")
def test_disassembly_interleaves_source(progs):
    text = progs.count_exec.disassemble()
    assert "exec_counts[ctx.pid] += 1" in text
    assert "call bpf_map_lookup_elem" in text
    slots = [slot for slot, loc in progs.count_exec.source_map if loc.line]
    assert slots and all(isinstance(s, int) for s in slots)
