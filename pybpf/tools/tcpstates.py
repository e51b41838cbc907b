"""The BPF side shared by tcplife, tcptracer and snapshot: one event per TCP state change
(sock:inet_sock_set_state) with addresses, ports, the current task, and at TCP_CLOSE the
socket's byte counters; user space follows each socket by its kernel address."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

from pybpf.session import Session
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

# include/net/tcp_states.h
ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, \
    LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV = range(1, 13)
# states entered from a system call (connect(), close()): the current task owns the socket
USER_CONTEXT_STATES = (SYN_SENT, FIN_WAIT1, LAST_ACK, CLOSE)
IPPROTO_TCP = 6


def _tcp_sock_offsets() -> tuple[int, int]:
    from pybpf.btf import kernel_btf

    btf = kernel_btf()
    t = btf.struct("tcp_sock")
    rx = btf.member(t, "bytes_received", follow_pointers=False).offset
    tx = btf.member(t, "bytes_acked", follow_pointers=False).offset
    return rx, tx


def build(session: Session | None = None, family_only: int = 0, connects_only: bool = False,
          target: TaskTarget = ANY_TASK) -> Session:
    """A program on sock:inet_sock_set_state submitting every TCP state change to the
    session's ring buffer (family_only: 0, AF_INET or AF_INET6). With `connects_only`
    (tcpconnect), only the changes into SYN_SENT, which connect() makes in the caller's
    context, so that `target` (-p/-u) is tested there, and those out of SYN_SENT (they carry
    the local port)."""
    from pybpf import bpf, comm, ktime_ns, pid, u32, u64, uid

    wanted = task_filter(target)

    rx_off, tx_off = _tcp_sock_offsets()

    class Event(bpf.Struct):
        ts: u64
        skaddr: u64
        rx: u64
        tx: u64
        s6hi: u64
        s6lo: u64
        d6hi: u64
        d6lo: u64
        saddr: u32
        daddr: u32
        pid: u32
        uid: u32
        oldstate: u32
        newstate: u32
        family: u32
        sport: u32
        dport: u32
        comm: "char[16]"  # noqa: F821, UP037

    s = session or Session()
    events = s.ringbuf(Event)

    @bpf.tracepoint("sock:inet_sock_set_state")
    def tcp_set_state(ctx):
        if ctx.protocol != IPPROTO_TCP:
            return 0
        if family_only and ctx.family != family_only:
            return 0
        if connects_only:
            if ctx.newstate == SYN_SENT:
                if target.given:
                    if not wanted():
                        return 0
            elif ctx.oldstate != SYN_SENT:
                return 0
        ev = Event(ts=ktime_ns(), skaddr=u64(ctx.skaddr), pid=pid(), uid=uid(),
                   oldstate=ctx.oldstate,
                   newstate=ctx.newstate, family=ctx.family, sport=ctx.sport,
                   dport=ctx.dport, comm=comm())
        ev.saddr = u32(ctx.saddr[0]) | (u32(ctx.saddr[1]) << 8) | \
            (u32(ctx.saddr[2]) << 16) | (u32(ctx.saddr[3]) << 24)
        ev.daddr = u32(ctx.daddr[0]) | (u32(ctx.daddr[1]) << 8) | \
            (u32(ctx.daddr[2]) << 16) | (u32(ctx.daddr[3]) << 24)
        if ctx.family == 10:
            ev.s6hi = (u64(ctx.saddr_v6[0]) << 56) | (u64(ctx.saddr_v6[1]) << 48) | \
                (u64(ctx.saddr_v6[2]) << 40) | (u64(ctx.saddr_v6[3]) << 32) | \
                (u64(ctx.saddr_v6[4]) << 24) | (u64(ctx.saddr_v6[5]) << 16) | \
                (u64(ctx.saddr_v6[6]) << 8) | u64(ctx.saddr_v6[7])
            ev.s6lo = (u64(ctx.saddr_v6[8]) << 56) | (u64(ctx.saddr_v6[9]) << 48) | \
                (u64(ctx.saddr_v6[10]) << 40) | (u64(ctx.saddr_v6[11]) << 32) | \
                (u64(ctx.saddr_v6[12]) << 24) | (u64(ctx.saddr_v6[13]) << 16) | \
                (u64(ctx.saddr_v6[14]) << 8) | u64(ctx.saddr_v6[15])
            ev.d6hi = (u64(ctx.daddr_v6[0]) << 56) | (u64(ctx.daddr_v6[1]) << 48) | \
                (u64(ctx.daddr_v6[2]) << 40) | (u64(ctx.daddr_v6[3]) << 32) | \
                (u64(ctx.daddr_v6[4]) << 24) | (u64(ctx.daddr_v6[5]) << 16) | \
                (u64(ctx.daddr_v6[6]) << 8) | u64(ctx.daddr_v6[7])
            ev.d6lo = (u64(ctx.daddr_v6[8]) << 56) | (u64(ctx.daddr_v6[9]) << 48) | \
                (u64(ctx.daddr_v6[10]) << 40) | (u64(ctx.daddr_v6[11]) << 32) | \
                (u64(ctx.daddr_v6[12]) << 24) | (u64(ctx.daddr_v6[13]) << 16) | \
                (u64(ctx.daddr_v6[14]) << 8) | u64(ctx.daddr_v6[15])
        if ctx.newstate == CLOSE:
            # tcp_sock byte counters; the tracepoint's skaddr is an untyped pointer, so the
            # u64s are read a byte at a time (a zero byte reads as an empty string)
            rx = u64(0)
            tx = u64(0)
            for j in range(8):
                b = str(ctx.skaddr + rx_off + j, 2)
                rx = rx | (u64(u32(b[0]) & 255) << (8 * j))
                c = str(ctx.skaddr + tx_off + j, 2)
                tx = tx | (u64(u32(c[0]) & 255) << (8 * j))
            ev.rx = rx
            ev.tx = tx
        events.submit(ev)
        return 0

    s.program(tcp_set_state)
    return s


def addresses(ev: Any) -> tuple[str, str]:
    """(local, remote) address text of a state-change event."""
    if ev.family == socket.AF_INET6:
        src = ipaddress.IPv6Address((ev.s6hi << 64) | ev.s6lo)
        dst = ipaddress.IPv6Address((ev.d6hi << 64) | ev.d6lo)
        return str(src), str(dst)
    return (str(ipaddress.IPv4Address(ev.saddr.to_bytes(4, "little"))),
            str(ipaddress.IPv4Address(ev.daddr.to_bytes(4, "little"))))


@dataclass
class Conn:
    """What user space knows about one socket while it lives."""

    first_ts: int
    pid: int = 0
    comm: str = ""
    active: bool = False  # opened by connect()
    established: bool = False
    established_ts: int = 0
    states: list[int] = field(default_factory=list)


class Tracker:
    """Follows sockets through their state changes; `feed(ev)` returns the Conn the event
    belongs to (dropped at TCP_CLOSE, the caller reads it first)."""

    def __init__(self) -> None:
        self.conns: dict[int, Conn] = {}

    def feed(self, ev: Any) -> Conn:
        c = self.conns.get(ev.skaddr)
        if c is None:
            c = self.conns[ev.skaddr] = Conn(ev.ts)
        c.states.append(ev.newstate)
        if ev.newstate == SYN_SENT:
            c.active = True
        if ev.newstate in USER_CONTEXT_STATES and ev.pid and (
                not c.pid or ev.newstate == SYN_SENT):
            c.pid, c.comm = ev.pid, ev.comm.decode("utf-8", "replace") \
                if isinstance(ev.comm, bytes) else ev.comm
        if ev.newstate == ESTABLISHED:
            c.established = True
            c.established_ts = ev.ts
        if ev.newstate == CLOSE:
            self.conns.pop(ev.skaddr, None)
        return c


def listener_owner(port: int, family: int) -> tuple[int, str]:
    """(pid, comm) of the process listening on local TCP `port` (0, "" when unknown): an
    accepted connection's owner, which the state-change tracepoint (run in softirq) lacks."""
    import os

    inode = None
    for name in ("tcp6", "tcp") if family == socket.AF_INET6 else ("tcp", "tcp6"):
        try:
            with open(f"/proc/net/{name}") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        inode = parts[9]
                        break
        except OSError:
            continue
        if inode:
            break
    if not inode:
        return 0, ""
    target = f"socket:[{inode}]"
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                if os.readlink(f"/proc/{p}/fd/{fd}") == target:
                    with open(f"/proc/{p}/comm") as f:
                        return int(p), f.read().strip()
        except OSError:
            continue
    return 0, ""
