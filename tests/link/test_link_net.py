"""XDP and tc over a veth pair between two network namespaces, socket filters on a socket
pair, and cgroup_skb on a test cgroup holding one child process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap

import pytest

from pybpf import NotSupportedError, attach
from pybpf.link import AttachError, UnknownTargetError
from tests import netns
from tests.link.linkkit import counter, needs_root

pytestmark = needs_root

XDP_PASS = 2
TCX_PASS = 0
PACKETS = 5


@pytest.fixture
def veth():
    reason = netns.available()
    if reason:
        pytest.skip(reason)
    try:
        pair = netns.veth_pair()
        net = pair.__enter__()
    except netns.NetnsError as e:
        if "Unknown device type" in str(e) or "not supported" in str(e).lower():
            pytest.skip(f"this kernel cannot make veth pairs: {e}")
        raise
    try:
        yield net
    finally:
        pair.__exit__(None, None, None)


def _udp_ok(net: netns.VethPair, reverse: bool = False) -> None:
    assert net.udp(PACKETS, reverse=reverse) == PACKETS


@pytest.mark.parametrize("mode", ["auto", "skb"])
def test_xdp_counts_packets(veth, mode):
    prog, counts = counter("xdp", ret=XDP_PASS)
    with prog:
        with netns.enter_netns(veth.ns_b):
            link = attach.xdp(prog, veth.if_b, mode=mode)
        with link:
            assert link.id is not None
            _udp_ok(veth)
            seen = counts[0]
            assert seen >= PACKETS
        _udp_ok(veth)  # detached: traffic flows, nothing counted
        assert counts[0] == seen


def test_xdp_ipv6(veth):
    prog, counts = counter("xdp", ret=XDP_PASS)
    with prog:
        with netns.enter_netns(veth.ns_b):
            link = attach.xdp(prog, veth.if_b)
        with link:
            assert veth.udp(3, ipv6=True) == 3
            assert counts[0] >= 3


def test_xdp_second_program_is_refused(veth):
    prog, _ = counter("xdp", ret=XDP_PASS)
    with prog, netns.enter_netns(veth.ns_b):
        with attach.xdp(prog, veth.if_b), pytest.raises(AttachError, match="already has an XDP"):
            attach.xdp(prog, veth.if_b)


def test_xdp_unknown_interface():
    prog, _ = counter("xdp", ret=XDP_PASS)
    with prog, pytest.raises(UnknownTargetError, match="no network interface 'nosuchif0'"):
        attach.xdp(prog, "nosuchif0")


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_tc_counts_packets(veth, direction):
    prog, counts = counter("sched_cls", ret=TCX_PASS)
    with prog:
        # traffic goes A -> B: B's ingress and A's egress see it
        ns, dev = (veth.ns_b, veth.if_b) if direction == "ingress" else (veth.ns_a, veth.if_a)
        with netns.enter_netns(ns):
            try:
                link = attach.tc(prog, dev, direction)
            except NotSupportedError as e:
                pytest.skip(str(e))
        with link:
            assert link.id is not None
            _udp_ok(veth)
            assert counts[0] >= PACKETS
        seen = counts[0]
        _udp_ok(veth)
        assert counts[0] == seen


def test_tc_drop_blocks_traffic(veth):
    prog, counts = counter("sched_cls", ret=2)  # TCX_DROP
    with prog:
        with netns.enter_netns(veth.ns_b):
            try:
                link = attach.tc(prog, veth.if_b, "ingress")
            except NotSupportedError as e:
                pytest.skip(str(e))
        with link:
            assert veth.udp(2, timeout=0.3) == 0
            assert counts[0] >= 1  # at least B's ARP request was seen and dropped
        _udp_ok(veth)


def test_tc_wrong_program_type(veth):
    prog, _ = counter("xdp", ret=XDP_PASS)
    with prog, netns.enter_netns(veth.ns_b), \
            pytest.raises(AttachError, match="needs a 'sched_cls' program"):
        attach.tc(prog, veth.if_b, "ingress")


def test_socket_filter_drop_and_detach():
    prog, counts = counter("socket_filter", ret=0)  # keep 0 bytes: drop
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with prog, a, b:
        b.settimeout(0.2)
        with attach.socket_filter(prog, b) as link:
            assert link.fd is None and link.id is None
            for _ in range(3):
                a.send(b"dropped")
            with pytest.raises(TimeoutError):
                b.recv(100)
            assert counts[0] == 3
        a.send(b"kept")
        assert b.recv(100) == b"kept"
        assert counts[0] == 3


def test_socket_filter_accept_on_fd_number():
    prog, counts = counter("socket_filter", ret=-1)  # keep everything
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with prog, a, b:
        b.settimeout(1)
        with attach.socket_filter(prog, b.fileno()):
            a.send(b"hello")
            assert b.recv(100) == b"hello"
        assert counts[0] == 1
        assert b.fileno() >= 0  # the caller's socket stays open


def test_socket_filter_link_after_socket_closed():
    prog, _ = counter("socket_filter", ret=-1)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with prog, a:
        link = attach.socket_filter(prog, b)
        b.close()
        link.close()  # nothing to detach: no error


SENDER = textwrap.dedent("""
    import socket, sys
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):
        s.sendto(b"x", sink.getsockname())
    sys.stdout.write("done\\n"); sys.stdout.flush()
""")


@pytest.fixture
def test_cgroup():
    from pybpf.link.cgroup import cgroup2_mount

    try:
        root = cgroup2_mount()
    except UnknownTargetError as e:
        pytest.skip(str(e))
    path = os.path.join(root, f"pybpf-test-{os.getpid()}")
    os.mkdir(path)
    try:
        yield path
    finally:
        os.rmdir(path)


def test_cgroup_skb_egress_counts_child_packets(test_cgroup):
    prog, counts = counter("cgroup_skb", ret=1, attach="cgroup_inet_egress")
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to give the child its own loopback")
    # the child gets a network namespace of its own with loopback up (unshare and sh exec
    # into python, so the pid moved into the cgroup is the sender's); a listener there
    # receives the datagrams so no ICMP errors come back
    child = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
         "-c", SENDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        with open(os.path.join(test_cgroup, "cgroup.procs"), "w") as f:
            f.write(str(child.pid))
        with prog, attach.cgroup(prog, test_cgroup, "egress") as link:
            assert link.id is not None
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "done"
            child.wait(timeout=10)
            assert counts[0] == 5
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def test_cgroup_relative_path_and_attach_type_names(test_cgroup):
    from pybpf.link.cgroup import cgroup_attach_type

    assert cgroup_attach_type("ingress").name == "CGROUP_INET_INGRESS"
    assert cgroup_attach_type("inet4_connect").name == "CGROUP_INET4_CONNECT"
    assert cgroup_attach_type("cgroup_inet_egress").name == "CGROUP_INET_EGRESS"
    with pytest.raises(ValueError, match="unknown cgroup attach type"):
        cgroup_attach_type("sideways")
    prog, _ = counter("cgroup_skb", ret=1)
    with prog, attach.cgroup(prog, os.path.basename(test_cgroup), "ingress") as link:
        assert link.id is not None


def test_cgroup_missing_directory():
    prog, _ = counter("cgroup_skb", ret=1)
    with prog, pytest.raises(UnknownTargetError, match="does not exist"):
        attach.cgroup(prog, "/sys/fs/cgroup/unified/pybpf-no-such-cgroup", "egress")
