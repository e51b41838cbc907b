"""Decorators that compile Python functions into BPF programs.

    from pybpf import bpf, maps, u64, comm

    counts = maps.Hash(key="char[16]", value=u64, max_entries=10240)

    @bpf.tracepoint("raw_syscalls:sys_enter")
    def on_enter(ctx):
        counts[comm()] += 1

    with on_enter.attach():
        time.sleep(1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pybpf.compiler.api import (
    CompiledProgram,
    FunctionProgram,
    InlineFunction,
    PacketProgram,
    PerfEventProgram,
    ProbeProgram,
    RawTracepointProgram,
    TracepointProgram,
    TrampolineProgram,
)
from pybpf.compiler.errors import CompileError, InternalCompilerError
from pybpf.compiler.structs import Struct

Decorator = Callable[[Callable[..., Any]], CompiledProgram]


def tracepoint(target: str) -> Decorator:
    """A classic tracepoint, "group:name"; `ctx.<field>` as in its tracefs format."""
    return lambda f: TracepointProgram(f, target)


def raw_tracepoint(name: str) -> Decorator:
    """A raw tracepoint; `ctx.<arg>` typed from the kernel's BTF."""
    return lambda f: RawTracepointProgram(f, name)


def perf_event(type: str, config: str, **options: Any) -> Decorator:
    """A perf event sampler: bpf.perf_event("software", "cpu-clock", sample_freq=99)."""
    return lambda f: PerfEventProgram(f, type, config, **options)


def uprobe(path: str, symbol: str | int, **options: Any) -> Decorator:
    return lambda f: ProbeProgram(f, "uprobe", path, symbol, **options)


def uretprobe(path: str, symbol: str | int, **options: Any) -> Decorator:
    return lambda f: ProbeProgram(f, "uretprobe", path, symbol, **options)


def usdt(path: str, provider: str, name: str, pid: int = -1,
         site: int | None = None) -> Decorator:
    """A USDT probe of a binary or shared library: `ctx.arg0..` (or parameters after ctx)
    are its arguments, read as its .note.stapsdt says; its semaphore is raised while
    attached."""
    from pybpf.compiler.usdtprog import UsdtProgram

    return lambda f: UsdtProgram(f, path, provider, name, pid=pid, site=site)


def kprobe(symbol: str) -> Decorator:
    """A kprobe (kernels without kprobes raise NotSupportedError at attach)."""
    return lambda f: ProbeProgram(f, "kprobe", symbol)


def kretprobe(symbol: str) -> Decorator:
    """A kretprobe: `ctx.retval` typed from the function's BTF."""
    return lambda f: ProbeProgram(f, "kretprobe", symbol)


def fentry(function: str) -> Decorator:
    """A BPF trampoline at a kernel function's entry: `def f(ctx, arg1, arg2...)` with the
    arguments typed from BTF (kernels with fentry/fexit)."""
    return lambda f: TrampolineProgram(f, "fentry", function)


def fexit(function: str) -> Decorator:
    """At a kernel function's return: its arguments and `ctx.retval`."""
    return lambda f: TrampolineProgram(f, "fexit", function)


def xdp(f: Callable[..., Any]) -> CompiledProgram:
    return PacketProgram(f, "xdp")


def tc(f: Callable[..., Any]) -> CompiledProgram:
    return PacketProgram(f, "sched_cls")


def socket_filter(f: Callable[..., Any]) -> CompiledProgram:
    return PacketProgram(f, "socket_filter")


def function(f: Callable[..., Any]) -> FunctionProgram:
    """Integer arguments in, an integer out: `f.run(...)` in the kernel, `f.py(...)` in
    Python."""
    return FunctionProgram(f)


def inline(f: Callable[..., Any]) -> InlineFunction:
    """A function compiled into its callers (maps may be passed as arguments)."""
    return InlineFunction(f)


__all__ = ["CompileError", "InternalCompilerError", "Struct", "fentry", "fexit", "function",
           "inline", "kprobe",
           "kretprobe", "perf_event", "raw_tracepoint", "socket_filter", "tc", "tracepoint",
           "uprobe", "uretprobe", "usdt", "xdp"]
