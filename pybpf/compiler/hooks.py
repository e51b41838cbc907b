"""Where compiled programs run: one table from a hook kind to its program type, how it is
loaded (plain, or through BPF trampolines with an expected attach type and a BTF target) and
how it is attached. The Python decorators (`api`) and `pybpf trace` (`lang.runtime`) both
load and attach through it.

`where` holds a hook's target, by kind:
    tracepoint      group=, name=
    raw_tracepoint  name=
    perf_event      type=, config=, and perf options (sample_freq=, sample_period=, cpus=)
    uprobe          path=, symbol=, and uprobe options (pid=, ...)
    usdt            path=, provider=, name=, and pid=, sites= (pybpf.link.usdt)
    kprobe          target= ("[module:]function[+offset]")
    fentry / fexit  function= ("[module:]function")
    xdp             ifname=, and xdp options (mode=)
    tc              ifname=, direction= ("ingress" or "egress")
    socket_filter   sock=
    function        (none: run with BPF_PROG_TEST_RUN)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hook:
    kind: str
    prog_type: str
    attach_type: str | None = None  # the expected attach type, for trampolines
    attach: Callable[..., Any] | None = None  # (prog, **where) -> link

    @property
    def trampoline(self) -> bool:
        return self.attach_type is not None


def _tracepoint(prog: Any, group: str, name: str) -> Any:
    from pybpf import attach

    return attach.tracepoint(prog, group, name)


def _raw_tracepoint(prog: Any, name: str) -> Any:
    from pybpf import attach

    return attach.raw_tracepoint(prog, name)


def _perf_event(prog: Any, type: str, config: str, **options: Any) -> Any:
    from pybpf import attach

    return attach.perf_event(prog, type, config, **options)


def _uprobe(retprobe: bool) -> Callable[..., Any]:
    def run(prog: Any, path: str, symbol: str | int | None, **options: Any) -> Any:
        from pybpf import attach

        return attach.uprobe(prog, path, symbol, retprobe=retprobe, **options)

    return run


def _usdt(prog: Any, path: str, provider: str, name: str, **options: Any) -> Any:
    from pybpf import attach

    return attach.usdt(prog, path, provider, name, **options)


def _kprobe(retprobe: bool) -> Callable[..., Any]:
    def run(prog: Any, target: str) -> Any:
        from pybpf import attach

        return attach.kprobe(prog, target, retprobe=retprobe)

    return run


def _trampoline(kind: str) -> Callable[..., Any]:
    def run(prog: Any, function: str = "") -> Any:
        from pybpf import attach

        return attach.fentry(prog) if kind == "fentry" else attach.fexit(prog)

    return run


def _xdp(prog: Any, ifname: str, **options: Any) -> Any:
    from pybpf import attach

    return attach.xdp(prog, ifname, **options)


def _tc(prog: Any, ifname: str, direction: str = "ingress") -> Any:
    from pybpf import attach

    return attach.tc(prog, ifname, direction)


def _socket_filter(prog: Any, sock: Any) -> Any:
    from pybpf import attach

    return attach.socket_filter(prog, sock)


HOOKS: dict[str, Hook] = {h.kind: h for h in (
    Hook("tracepoint", "tracepoint", attach=_tracepoint),
    Hook("raw_tracepoint", "raw_tracepoint", attach=_raw_tracepoint),
    Hook("perf_event", "perf_event", attach=_perf_event),
    Hook("uprobe", "kprobe", attach=_uprobe(False)),
    Hook("uretprobe", "kprobe", attach=_uprobe(True)),
    Hook("usdt", "kprobe", attach=_usdt),
    Hook("kprobe", "kprobe", attach=_kprobe(False)),
    Hook("kretprobe", "kprobe", attach=_kprobe(True)),
    Hook("fentry", "tracing", "fentry", _trampoline("fentry")),
    Hook("fexit", "tracing", "fexit", _trampoline("fexit")),
    Hook("xdp", "xdp", attach=_xdp),
    Hook("tc", "sched_cls", attach=_tc),
    Hook("socket_filter", "socket_filter", attach=_socket_filter),
    Hook("function", "syscall"),
)}


def hook(kind: str) -> Hook:
    return HOOKS[kind]


def load(kind: str, insns: Sequence[Any], prog_name: str, /, **where: Any) -> Any:
    """Load `insns` as a program of hook `kind` named `prog_name` (trampolines: for
    `where["function"]`)."""
    h = HOOKS[kind]
    if h.trampoline:
        from pybpf.link.tracing import load_tracing

        return load_tracing(h.attach_type, insns, where["function"], name=prog_name)
    from pybpf.program import Program

    return Program.load(h.prog_type, insns, name=prog_name)


def attach(kind: str, prog: Any, /, **where: Any) -> Any:
    """Attach a loaded program to its hook; the link is closed to detach it."""
    h = HOOKS[kind]
    if h.attach is None:
        raise ValueError(f"{kind} programs are not attached: they are run with test_run()")
    return h.attach(prog, **where)


__all__ = ["HOOKS", "Hook", "attach", "hook", "load"]
