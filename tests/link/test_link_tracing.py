"""Tracepoints, raw tracepoints, perf events and kprobes: each attach fires on an event the
test causes, counted in a map."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from pybpf import BPFError, NotSupportedError, attach
from pybpf.link import AttachError, UnknownTargetError, kprobes_available
from pybpf.link._system import online_cpus
from pybpf.link.link import Link, LinkGroup
from tests.link.linkkit import burn_cpu, counter, needs_root

pytestmark = needs_root


def test_tracepoint_fires_on_exec():
    prog, counts = counter("tracepoint")
    with prog, attach.tracepoint(prog, "sched", "sched_process_exec") as link:
        assert isinstance(link, Link)
        assert link.id is not None and link.id > 0
        assert link.link_type is not None
        for _ in range(3):
            subprocess.run(["/bin/true"], check=True)
        assert counts[0] >= 3
    assert link.closed
    before = counts[0]
    subprocess.run(["/bin/true"], check=True)
    assert counts[0] == before  # detached: no more counting


def test_tracepoint_group_colon_spelling():
    prog, counts = counter("tracepoint", pid=os.getpid())
    with prog, attach.tracepoint(prog, "syscalls:sys_enter_getppid"):
        for _ in range(7):
            os.getppid()
    assert counts[0] == 7


def test_unknown_tracepoint_names_it():
    prog, _ = counter("tracepoint")
    with prog, pytest.raises(UnknownTargetError, match="sched:sched_process_exe\\b.*"
                                                        "sched_process_exec"):
        attach.tracepoint(prog, "sched", "sched_process_exe")
    with prog, pytest.raises(UnknownTargetError, match="no tracepoint group 'schd'"):
        attach.tracepoint(prog, "schd", "sched_switch")


def test_tracepoint_wrong_program_type():
    prog, _ = counter("raw_tracepoint")
    with prog, pytest.raises(AttachError, match="needs a 'tracepoint' program.*'raw_tracepoint'"):
        attach.tracepoint(prog, "sched", "sched_process_exec")


def test_raw_tracepoint_fires_on_syscalls():
    prog, counts = counter("raw_tracepoint", pid=os.getpid())
    with prog, attach.raw_tracepoint(prog, "sys_enter") as link:
        assert link.id is not None
        for _ in range(10):
            os.getppid()
        assert counts[0] >= 10


def test_raw_tracepoint_sched_switch():
    prog, counts = counter("raw_tracepoint")
    with prog, attach.raw_tracepoint(prog, "sched:sched_switch"):
        subprocess.run(["sleep", "0.05"], check=True)
        assert counts[0] > 0


def test_unknown_raw_tracepoint():
    prog, _ = counter("raw_tracepoint")
    with prog, pytest.raises(UnknownTargetError, match="no_such_tp"):
        attach.raw_tracepoint(prog, "no_such_tp")


def test_perf_event_cpu_clock_samples():
    prog, counts = counter("perf_event")
    with prog, attach.perf_event(prog, "software", "cpu-clock", sample_freq=999) as link:
        assert isinstance(link, LinkGroup)
        assert len(link) == len(online_cpus())
        assert len(set(link.ids)) == len(link)
        burn_cpu(0.2)
        assert counts[0] > 0


def test_perf_event_sample_period_for_one_pid():
    prog, counts = counter("perf_event")
    with prog, attach.perf_event(prog, "software", "task-clock", sample_period=1_000_000,
                                 pid=os.getpid()) as link:
        assert len(link) == 1
        burn_cpu(0.2)  # ~200 ms of task clock at 1 ms per sample
        assert counts[0] > 10


def test_perf_event_unknown_names():
    prog, _ = counter("perf_event")
    with prog:
        with pytest.raises(UnknownTargetError, match="cpu-clocks.*cpu-clock"):
            attach.perf_event(prog, "software", "cpu-clocks")
        with pytest.raises(UnknownTargetError, match="perf event type 'softwar'"):
            attach.perf_event(prog, "softwar", "cpu-clock")


def test_perf_event_hardware_supported_or_clear_error():
    prog, counts = counter("perf_event")
    with prog:
        try:
            link = attach.perf_event(prog, "hardware", "cycles", sample_period=100_000)
        except NotSupportedError as e:
            assert "hardware" in str(e) and "cpu-clock" in str(e)
            return
        with link:
            burn_cpu(0.1)
            assert counts[0] > 0


def test_perf_event_failure_midway_closes_opened_parts():
    prog, _ = counter("perf_event")
    before = set(attach.link_ids())
    with prog, pytest.raises(BPFError) as info:
        attach.perf_event(prog, "software", "cpu-clock", cpus=[0, 4095])
    assert info.value.errno in (errno.EINVAL, errno.ENODEV, errno.ENXIO)
    leaked = set(attach.link_ids()) - before
    # other tests on this machine may create links meanwhile: ours are perf_event links on
    # this program, which must all be gone
    from pybpf.sys import objects

    for link_id in leaked:
        try:
            with objects.fd_by_id("link", link_id) as fd:
                assert objects.link_info(fd.fileno()).prog_id != prog.id
        except OSError:
            pass


@pytest.mark.skipif(kprobes_available(), reason="this kernel has kprobes")
def test_kprobe_not_supported_here():
    prog, _ = counter("kprobe")
    with prog, pytest.raises(NotSupportedError, match="kprobes are not available.*tracepoint"):
        attach.kprobe(prog, "do_sys_openat2")
    with prog, pytest.raises(NotSupportedError, match="kprobes are not available"):
        attach.kretprobe(prog, "do_sys_openat2")


@pytest.mark.skipif(not kprobes_available(), reason="this kernel has no kprobes")
def test_kprobe_fires():
    prog, counts = counter("kprobe", pid=os.getpid())
    with prog, attach.kprobe(prog, "__x64_sys_getppid"):
        for _ in range(5):
            os.getppid()
    assert counts[0] >= 5


def test_kprobe_target_parsing():
    from pybpf.link.kprobe import parse_target

    assert parse_target("tcp_sendmsg") == ("tcp_sendmsg", 0)
    assert parse_target("tcp_sendmsg+0x10") == ("tcp_sendmsg", 16)
    assert parse_target(0xFFFF0000) == (None, 0xFFFF0000)
