"""Links release everything: close(), context exit, garbage collection; the kernel's link id
list afterwards holds none of the test's links."""

from __future__ import annotations

import gc
import os
import socket
import subprocess

import pytest

from pybpf import attach
from pybpf.link import Link
from pybpf.sys import objects
from tests.link.linkkit import counter, needs_root

pytestmark = needs_root


def _our_links(prog_ids: set[int]) -> list[int]:
    """Ids of live links whose program is one of `prog_ids` (other sessions on this machine
    may create links of their own meanwhile: those are not ours to count)."""
    found = []
    for link_id in objects.ids("link"):
        try:
            with objects.fd_by_id("link", link_id) as fd:
                if objects.link_info(fd.fileno()).prog_id in prog_ids:
                    found.append(link_id)
        except OSError:
            continue  # closed between the walk and the lookup
    return found


def test_link_ids_return_to_before():
    before = set(attach.link_ids())
    tp, _ = counter("tracepoint")
    raw, _ = counter("raw_tracepoint")
    pe, _ = counter("perf_event")
    up, _ = counter("kprobe")
    progs = [tp, raw, pe, up]
    prog_ids = {p.id for p in progs}
    links: list[Link] = [
        attach.tracepoint(tp, "sched", "sched_process_exec"),
        attach.raw_tracepoint(raw, "sched_switch"),
        attach.perf_event(pe, "software", "cpu-clock"),
        attach.uprobe(up, "libc", "getpgid"),
        attach.uretprobe(up, "libc", "getpgid"),
    ]
    ours = [i for link in links for i in link.ids]
    assert len(ours) == len(set(ours)) >= len(links)
    assert set(ours) <= set(attach.link_ids())
    assert sorted(_our_links(prog_ids)) == sorted(ours)
    for link in links:
        link.close()
        link.close()  # idempotent
        assert link.closed and "closed" in repr(link)
    after = set(attach.link_ids())
    assert not set(ours) & after
    assert _our_links(prog_ids) == []
    assert (after - before).isdisjoint(ours)
    for p in progs:
        p.close()


def test_garbage_collected_link_detaches():
    prog, counts = counter("tracepoint")
    link = attach.tracepoint(prog, "sched", "sched_process_exec")
    link_id = link.id
    del link
    gc.collect()
    assert link_id not in attach.link_ids()
    subprocess.run(["/bin/true"], check=True)
    assert counts[0] == 0
    prog.close()


def test_garbage_collected_socket_filter_detaches():
    prog, _ = counter("socket_filter", ret=0)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with prog, a, b:
        link = attach.socket_filter(prog, b)
        del link
        gc.collect()
        a.send(b"through")
        b.settimeout(1)
        assert b.recv(100) == b"through"


def test_links_outlive_closed_program():
    prog, counts = counter("raw_tracepoint", pid=os.getpid())
    with attach.raw_tracepoint(prog, "sys_enter"):
        prog.close()  # the kernel link holds its own reference to the program
        os.getppid()
        assert counts[0] >= 1


def test_detach_stops_events():
    prog, counts = counter("raw_tracepoint", pid=os.getpid())
    with prog, attach.raw_tracepoint(prog, "sys_enter") as link:
        link.detach()
        n = counts[0]
        os.getppid()
        assert counts[0] == n
    assert link.closed


def test_multi_part_link_repr_and_parts():
    prog, _ = counter("perf_event")
    with prog, attach.perf_event(prog, "software", "cpu-clock") as link:
        assert "parts=" in repr(link)
        assert link.fd is link.parts[0].fd
        assert all(not p.closed for p in link.parts)
    assert all(p.closed for p in link.parts)


def test_closed_program_cannot_attach():
    prog, _ = counter("tracepoint")
    prog.close()
    with pytest.raises(attach.AttachError, match="closed program"):
        attach.tracepoint(prog, "sched", "sched_process_exec")
