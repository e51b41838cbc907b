"""Test helper: two network namespaces joined by a veth pair, removed on exit.

    from netns import veth_pair, enter_netns
    with veth_pair() as net:
        net.run(net.ns_a, "ping", "-c", "5", net.ip4_b)
        with enter_netns(net.ns_b):
            ...  # this thread now sees net.if_b

Addresses come only from the benchmarking ranges 198.18.0.0/15 and 2001:2::/48. Everything is
removed on exit, also when the body raises. Needs root and iproute2 (`ip`)."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
_counter = itertools.count()
_libc = ctypes.CDLL(None, use_errno=True)


def available() -> str | None:
    """None when veth_pair() can work here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    return None


def ip(*args: str, ns: str | None = None, check: bool = True,
       timeout: float = 10) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


@dataclass(frozen=True)
class VethPair:
    ns_a: str
    ns_b: str
    if_a: str
    if_b: str
    ip4_a: str = "198.18.0.1"
    ip4_b: str = "198.18.0.2"
    ip6_a: str = "2001:2::1"
    ip6_b: str = "2001:2::2"

    def run(self, ns: str, *cmd: str, timeout: float = 10,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run `cmd` inside namespace `ns` (ip netns exec), bounded by `timeout` seconds."""
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                              text=True, timeout=timeout, check=check)

    def ping(self, from_ns: str, addr: str, count: int = 5) -> subprocess.CompletedProcess[str]:
        """`count` pings, 0.2 s apart, each waiting at most 1 s."""
        return self.run(from_ns, "ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1",
                        addr, timeout=count * 1.5 + 5)


@contextlib.contextmanager
def veth_pair(prefix: str = "pbt") -> Iterator[VethPair]:
    """Create namespaces A and B joined by veth (A: .1, B: .2 in 198.18.0.0/24 and
    2001:2::/64), yield their names and addresses, and delete both namespaces on exit."""
    reason = available()
    if reason:
        raise RuntimeError(reason)
    tag = f"{prefix}{os.getpid() % 100000}x{next(_counter)}"
    net = VethPair(ns_a=f"{tag}a", ns_b=f"{tag}b", if_a=f"{tag}a"[:15], if_b=f"{tag}b"[:15])
    created: list[str] = []
    try:
        for ns in (net.ns_a, net.ns_b):
            ip("netns", "add", ns)
            created.append(ns)
        ip("link", "add", net.if_a, "netns", net.ns_a, "type", "veth",
           "peer", "name", net.if_b, "netns", net.ns_b)
        for ns, dev, v4, v6 in ((net.ns_a, net.if_a, net.ip4_a, net.ip6_a),
                                (net.ns_b, net.if_b, net.ip4_b, net.ip6_b)):
            ip("addr", "add", f"{v4}/24", "dev", dev, ns=ns)
            ip("-6", "addr", "add", f"{v6}/64", "dev", dev, "nodad", ns=ns)
            ip("link", "set", dev, "up", ns=ns)
            ip("link", "set", "lo", "up", ns=ns)
        yield net
    finally:
        for ns in reversed(created):
            ip("netns", "del", ns, check=False)


@contextlib.contextmanager
def enter_netns(name: str) -> Iterator[None]:
    """Move this thread into network namespace `name` (from `ip netns add`) and back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns into {name}: {os.strerror(err)}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET) != 0:  # pragma: no cover - would be fatal
                err = ctypes.get_errno()
                raise OSError(err, f"setns back to the original namespace: {os.strerror(err)}")
    finally:
        os.close(own)
