"""Loading the clang-built test programs, attaching them by section name and checking the
events the test itself causes: tracepoint counts, ring and perf buffer records, global data
and .rodata options, .kconfig externs, packet programs."""

from __future__ import annotations

import os
import platform
import socket
import struct

import pytest

from pybpf import NotSupportedError
from pybpf.elf import Object
from pybpf.elf.kconfig import kernel_version
from tests.util import requires_root

pytestmark = requires_root


def test_tracepoint_counter_with_subprogram(objects, no_leaks):
    with Object.open(objects["counter"]) as obj:
        obj.load()
        links = obj.attach_all()
        assert {lk.kind for lk in links} == {"tracepoint", "raw_tracepoint"}
        for _ in range(5):
            os.getpid()
        counts = dict(obj.maps.counts.items())
        assert counts.get(os.getpid(), 0) >= 5  # keys and values decoded by BTF (__u32, __u64)
        assert obj.bss.total_calls >= 5
        # the subprogram bump() was appended to the program with its func_info
        prog = obj.programs.count_getpid
        assert prog.linked is not None and len(prog.linked.func_info) == 16
        assert prog.program.info().nr_func_info == 2


def test_object_exported_from_package_root():
    import pybpf

    assert pybpf.Object is Object


def test_ring_and_perf_buffer_records(objects, no_leaks):
    with Object.open(objects["ringbuf"]) as obj:
        obj.rodata.target_pid = os.getpid()
        obj.load()
        obj.attach_all()
        perf = obj.maps.perf_events.open_reader()
        for _ in range(3):
            os.getppid()
        ring = obj.maps.events.poll(1000)
        perf_recs = perf.poll(1000)
        event = obj.btf.find("event", "struct")
        from pybpf.elf.values import decode

        decoded = [decode(obj.btf, event, r) for r in ring]
        assert [e["seq"] for e in decoded] == [0, 1, 2]
        assert all(e["pid"] == os.getpid() for e in decoded)
        assert decoded[0]["comm"]
        assert len(perf_recs) == 3
        assert [struct.unpack_from("<II", bytes(r))[1] for r in perf_recs] == [0, 1, 2]
        assert obj.bss.seq == 3


def test_rodata_filters_other_processes(objects, no_leaks):
    with Object.open(objects["ringbuf"]) as obj:
        obj.rodata.target_pid = 1  # init never calls getppid in this test
        obj.load()
        obj.attach_all()
        os.getppid()
        assert obj.maps.events.poll(100) == []
        with pytest.raises(PermissionError, match="read-only"):
            obj.rodata.target_pid = 2


def test_global_data_rodata_struct_kconfig_and_legacy_map(objects, no_leaks):
    with Object.open(objects["globals"]) as obj:
        assert obj.rodata.cfg == {"target_pid": 0, "scale": 1, "tag": "none"}
        assert obj.data.data_counter == 100
        obj.rodata.cfg = {"target_pid": os.getpid(), "scale": -5, "tag": "hello"}
        obj.set("multiplier", 10)
        obj.load()
        obj.attach_all()
        os.getpgid(0)
        os.getpgid(0)
        assert obj.data.data_counter == 120
        assert obj.bss.to_dict() == {
            "last_scaled": -35, "seen_pid": os.getpid(), "seen_tag": "hello",
            "kernel_version": kernel_version(), "has_bpf_config": 1}
        assert obj.kconfig.LINUX_KERNEL_VERSION == kernel_version()
        assert obj.kconfig.CONFIG_PYBPF_NOT_A_REAL_OPTION is False
        legacy = obj.maps.legacy  # legacy maps have no BTF types: raw bytes
        assert legacy[struct.pack("<I", 1)] == struct.pack("<Q", 2)
        # .data is writable from Python after load
        obj.data.data_counter = 1000
        os.getpgid(0)
        assert obj.data.data_counter == 1010


def test_kernel_version_value():
    major, minor = (int(x) for x in platform.release().split(".")[:2])
    assert kernel_version() >> 8 == (major << 8) + minor
    assert kernel_version("6.1.0-47-amd64") == (6 << 16) + (1 << 8)
    assert kernel_version("5.4.300") == (5 << 16) + (4 << 8) + 255


def test_tracing_sections_attach_what_the_kernel_supports(objects, no_leaks):
    from pybpf.link import kprobes_available

    with Object.open(objects["tracing"]) as obj:
        obj.load(skip_unsupported=True)
        obj.attach_all(skip_unsupported=True)
        p = obj.programs
        assert p.on_tracepoint.links
        os.getuid()
        with open("/proc/self/stat", "rb") as f:
            f.read()
        hits = dict(obj.maps.hits.items())
        assert hits[3] >= 1
        if kprobes_available():
            assert p.on_kprobe.links and hits[0] >= 1
        else:
            assert "kprobe/vfs_read" in p.on_kprobe.skipped
            assert "kprobes are not available" in p.on_kprobe.skipped
        for prog, key in ((p.on_fentry, 1), (p.on_tp_btf, 2)):
            if prog.links:
                assert hits[key] >= 1
            else:
                assert prog.section.name in prog.skipped


def test_unsupported_section_is_a_clear_error(objects, no_leaks):
    from pybpf.link import kprobes_available

    if kprobes_available():
        pytest.skip("this kernel has kprobes")
    with Object.open(objects["tracing"]) as obj:
        obj.programs.on_fentry.autoload = False
        obj.load()
        assert obj.programs.on_fentry.skipped == "autoload is off"
        with pytest.raises(NotSupportedError, match=r"tracing.bpf.o: section 'kprobe/vfs_read'"):
            obj.attach_all()


def test_socket_filter_counts_packets(objects, no_leaks):
    with Object.open(objects["net"]) as obj:
        obj.load()
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        with a, b:
            obj.attach("count_socket", sock=b)
            for _ in range(4):
                a.send(b"ping")
            for _ in range(4):
                assert b.recv(16) == b"ping"
            assert obj.maps.packets[0] == 4
            links = obj.attach_all()  # xdp, tc, cgroup and socket need targets: skipped
            assert links == []
            assert "needs a network interface" in obj.programs.count_xdp.skipped


def test_test_run_of_a_loaded_xdp_program(objects, no_leaks):
    with Object.open(objects["net"]) as obj:
        obj.load()
        udp = (b"\xff" * 12 + b"\x08\x00" + b"\x45" + b"\0" * 8 + b"\x11" + b"\0" * 12
               + b"\x30\x39\x30\x39" + b"\0" * 8)
        assert obj.programs.count_xdp.test_run(udp).retval == 2
        assert obj.maps.packets[1] == 1


def test_xdp_and_tc_over_veth(objects, no_leaks):
    from tests import netns

    reason = netns.available()
    if reason:
        pytest.skip(reason)
    pair = netns.veth_pair("pbe")
    try:
        net = pair.__enter__()
    except netns.NetnsError as e:
        if "Unknown device type" in str(e):
            pytest.skip(f"this kernel cannot make veth pairs: {e}")
        raise
    with Object.open(objects["net"]) as obj:
        obj.load()
        with netns.enter_netns(net.ns_b):
            xdp = obj.attach("count_xdp", ifname=net.if_b)
            try:
                tc = obj.attach("count_tc", ifname=net.if_b)
            except NotSupportedError:
                tc = None
        assert net.udp(5) == 5
        assert obj.maps.packets[1] >= 5
        if tc is not None:
            assert obj.maps.packets[2] >= 5
        xdp.close()
    pair.__exit__(None, None, None)


UPROBE = """
#include "bpf_helpers.h"
__u64 entries, returns;
SEC("uprobe/%(lib)s:getpid")
int on_getpid(void *ctx) { __sync_fetch_and_add(&entries, 1); return 0; }
SEC("uretprobe/%(lib)s:getpid")
int on_getpid_return(void *ctx) { __sync_fetch_and_add(&returns, 1); return 0; }
"""


def _libc() -> str:
    with open("/proc/self/maps") as f:
        for line in f:
            if "libc.so" in line or "libc-" in line:
                return line.split()[-1]
    pytest.skip("no libc mapped in this process")


def test_uprobe_sections_with_binary_and_symbol(no_leaks):
    import ctypes

    from tests.elf.build import build_source

    lib = _libc()
    path = build_source("uprobe_libc", UPROBE % {"lib": lib})
    with Object.open(path) as obj:
        assert obj.programs.on_getpid.section.target == f"{lib}:getpid"
        obj.load()
        links = obj.attach_all()
        assert len(links) == 2
        libc = ctypes.CDLL(lib)
        for _ in range(3):
            libc.getpid()
        assert obj.bss.entries >= 3
        assert obj.bss.returns >= 3


def test_cgroup_skb_attaches_to_a_given_cgroup(objects, no_leaks):
    from pybpf.link.cgroup import cgroup2_mount

    try:
        root = cgroup2_mount()
    except OSError as e:  # UnknownTargetError is a BPFError (an OSError)
        pytest.skip(f"no cgroup2: {e}")
    path = os.path.join(root, f"pybpf-elf-{os.getpid()}")
    os.mkdir(path)
    try:
        with Object.open(objects["net"]) as obj:
            obj.load()
            links = obj.attach_all(cgroup=path)
            assert [lk.kind for lk in links] == ["cgroup"]
            assert obj.programs.count_cgroup.links
            assert "needs a socket" in obj.programs.count_socket.skipped
    finally:
        os.rmdir(path)


STRINGS = """
#include "bpf_helpers.h"
char copied[16];
static __noinline int copy(const char *s)
{
	for (int i = 0; i < 15 && s[i]; i++)
		copied[i] = s[i];
	return 0;
}
SEC("tp/syscalls/sys_enter_getpid")
int strings(void *ctx)
{
	copy("from .rodata.str");
	return 0;
}
"""


def test_string_literals_in_rodata_str_sections(no_leaks):
    from tests.elf.build import build_source

    with Object.open(build_source("strings", STRINGS)) as obj:
        assert any(s.startswith(".rodata.str") for s in obj.globals)
        obj.load()
        obj.attach_all()
        os.getpid()
        assert obj.bss.copied == "from .rodata.st"
