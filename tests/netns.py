"""Test helper: two network namespaces joined by a veth pair, removed on exit.

    from netns import veth_pair, enter_netns
    with veth_pair() as net:
        assert net.udp(5) == 5          # 5 datagrams from A to B
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
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
_counter = itertools.count()
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    """Setting up namespaces or veth failed; the message carries `ip`'s own complaint."""


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
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise NetnsError(f"`{' '.join(cmd)}` failed: {res.stderr.strip() or res.returncode}")
    return res


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

    def udp(self, count: int = 5, ipv6: bool = False, reverse: bool = False,
            timeout: float = 1.0) -> int:
        """Send `count` UDP datagrams from A to B (B to A with reverse=True) over the veth
        and return how many arrived. The sockets are made inside the namespaces by this
        thread, so no helper binaries are needed; each receive waits at most `timeout` s."""
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        src_ns, dst_ns = (self.ns_b, self.ns_a) if reverse else (self.ns_a, self.ns_b)
        if ipv6:
            dst = self.ip6_a if reverse else self.ip6_b
        else:
            dst = self.ip4_a if reverse else self.ip4_b
        with enter_netns(dst_ns):
            rx = socket.socket(family, socket.SOCK_DGRAM)
        with enter_netns(src_ns):
            tx = socket.socket(family, socket.SOCK_DGRAM)
        with rx, tx:
            rx.bind((dst, 0))
            rx.settimeout(timeout)
            port = rx.getsockname()[1]
            for i in range(count):
                tx.sendto(f"pybpf test {i}".encode(), (dst, port))
            got = 0
            for _ in range(count):
                try:
                    rx.recv(128)
                except TimeoutError:
                    break
                got += 1
            return got


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
            _no_dad(ns)
        ip("link", "add", net.if_a, "netns", net.ns_a, "type", "veth",
           "peer", "name", net.if_b, "netns", net.ns_b)
        for ns, dev, v4, v6 in ((net.ns_a, net.if_a, net.ip4_a, net.ip6_a),
                                (net.ns_b, net.if_b, net.ip4_b, net.ip6_b)):
            ip("addr", "add", f"{v4}/24", "dev", dev, ns=ns)
            ip("-6", "addr", "add", f"{v6}/64", "dev", dev, "nodad", ns=ns)
            ip("link", "set", dev, "up", ns=ns)
            ip("link", "set", "lo", "up", ns=ns)
        _wait_ready(net)
        yield net
    finally:
        for ns in reversed(created):
            ip("netns", "del", ns, check=False)


def _wait_ready(net: VethPair, timeout: float = 5.0) -> None:
    """Wait until both ends have carrier and a usable IPv6 link-local address, so that the
    first packets of a test are not lost to neighbour discovery racing the link coming up."""
    deadline = time.monotonic() + timeout
    while True:
        ready = True
        for ns, dev in ((net.ns_a, net.if_a), (net.ns_b, net.if_b)):
            link = ip("-o", "link", "show", "dev", dev, ns=ns).stdout
            addrs = ip("-o", "-6", "addr", "show", "dev", dev, "scope", "link", ns=ns).stdout
            if "NO-CARRIER" in link or "state UP" not in link or "fe80" not in addrs \
                    or "tentative" in addrs:
                ready = False
        if ready:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"veth {net.if_a}/{net.if_b} did not come up in {timeout} s")
        time.sleep(0.02)


def _no_dad(ns: str) -> None:
    """Turn off IPv6 duplicate address detection in `ns` so link-local addresses (and with
    them neighbour discovery) work at once instead of after a second or two."""
    with enter_netns(ns):
        for conf in ("all", "default"):
            try:
                with open(f"/proc/sys/net/ipv6/conf/{conf}/accept_dad", "w") as f:
                    f.write("0")
            except OSError:
                pass  # no IPv6: the IPv6 addresses below will fail loudly


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
