"""The kernel-function side of tcpconnect and tcpaccept (as bcc traces them): the return of
tcp_v4_connect/tcp_v6_connect (fexit, or kprobe + kretprobe keeping the socket per thread)
and the return of inet_csk_accept (fexit or kretprobe), one event per connection with the
socket's addresses and ports (pybpf.tools.sock_events)."""

from __future__ import annotations

from typing import Any

from pybpf.session import Session
from pybpf.tools.kfunc import FENTRY
from pybpf.tools.sock_events import IPPROTO_TCP, sock_event_ring
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

CONNECT = ("tcp_v4_connect", "tcp_v6_connect")
ACCEPT = "inet_csk_accept"


def _functions(family_only: int) -> list[str]:
    return [f for f, fam in zip(CONNECT, (2, 10), strict=True)
            if not family_only or fam == family_only]


def build_connect(hook: str, target: TaskTarget = ANY_TASK, family_only: int = 0
                  ) -> Session:
    """Successful connect() calls: fexit (hook FENTRY) or kprobe + kretprobe."""
    from pybpf import bpf, cast, maps, tid, u32, u64

    s = Session()
    submit_sock = sock_event_ring(s)  # (the functions are chosen by family)
    socks = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="tc_socks"))
    wanted = task_filter(target)

    def fexit(function: str) -> Any:
        @bpf.fexit(function)
        def tcpconnect_ret(ctx, sk):
            if ctx.retval != 0:
                return 0
            if target.given:
                if not wanted():
                    return 0
            submit_sock(sk)
            return 0

        return tcpconnect_ret

    def kprobes(function: str) -> tuple[Any, Any]:
        @bpf.kprobe(function)
        def tcpconnect_entry(ctx, sk):
            if target.given:
                if not wanted():
                    return 0
            socks[tid()] = u64(sk)
            return 0

        @bpf.kretprobe(function)
        def tcpconnect_return(ctx):
            t = tid()
            skp = socks.get(t, 0)
            if skp == 0:
                return 0
            del socks[t]
            if ctx.retval != 0:
                return 0
            submit_sock(cast(skp, "struct sock"))
            return 0

        return tcpconnect_entry, tcpconnect_return

    for function in _functions(family_only):
        for prog in ((fexit(function),) if hook == FENTRY else kprobes(function)):
            s.program(prog)
    return s


def connect_functions(family_only: int = 0) -> str:
    return "/".join(_functions(family_only))


def build_accept(hook: str, target: TaskTarget = ANY_TASK, family_only: int = 0
                 ) -> Session:
    """Sockets returned by inet_csk_accept (fexit, or kretprobe)."""
    from pybpf import bpf, cast, u64

    s = Session()
    submit_sock = sock_event_ring(s, family_only)
    wanted = task_filter(target)

    if hook == FENTRY:
        @bpf.fexit(ACCEPT)
        def tcpaccept_ret(ctx):
            sk = ctx.retval
            if u64(sk) == 0:
                return 0
            if target.given:
                if not wanted():
                    return 0
            if sk.sk_protocol != IPPROTO_TCP:
                return 0
            submit_sock(sk)
            return 0

        s.program(tcpaccept_ret)
        return s

    @bpf.kretprobe(ACCEPT)
    def tcpaccept_return(ctx):
        skp = u64(ctx.retval)
        if skp == 0:
            return 0
        if target.given:
            if not wanted():
                return 0
        sk = cast(skp, "struct sock")
        if sk.sk_protocol != IPPROTO_TCP:
            return 0
        submit_sock(sk)
        return 0

    s.program(tcpaccept_return)
    return s
