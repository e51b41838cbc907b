"""The decorators (`bpf.tracepoint`, `bpf.function`, ...) and the compiled-program objects
they return: compile on first use (through `pipeline`), load and attach (through `hooks`),
run through BPF_PROG_TEST_RUN, and show the code with its source lines."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Self

from pybpf import asm
from pybpf.compiler import hooks, pipeline
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.pipeline import Compiled, Lowered
from pybpf.compiler.pyfront import contexts
from pybpf.compiler.pyfront.source import source_of
from pybpf.compiler.rejection import load_retrying, verifier_rejection
from pybpf.compiler.target import Target


def compile_function(pyfunc: Callable[..., Any], context: contexts.Context,
                     target: Target | None = None) -> Compiled:
    """Compile a Python function for a context (what `ctx` and its parameters are)."""
    from pybpf.compiler.pyfront.lower import Lowerer
    from pybpf.compiler.target import kernel_target

    src = source_of(pyfunc)
    target = target if target is not None else kernel_target()

    def lower() -> Lowered:
        lw = Lowerer(src, context, target)
        fn = lw.lower_function(pyfunc.__name__)
        return Lowered(fn, lw.objects, {k: v.type for k, v in lw.vars.items()},
                       lw.cond_types)

    return pipeline.compile(lower, target=target, where=src.loc(None))


def refuse_stacked(pyfunc: Any) -> None:
    """A pybpf decorator over another one (two hooks on one function) is a positioned error
    that says what to write: each program is compiled for one hook's context."""
    inner = pyfunc if isinstance(pyfunc, CompiledProgram | InlineFunction) else None
    if inner is None:
        return
    source = source_of(inner.pyfunc)
    raise CompileError(
        f"{inner.__name__}() has two pybpf decorators: a function compiles for one hook",
        source.def_loc(),
        "Put the shared body in an @bpf.inline function and call it from one decorated "
        "function per hook.")


class CompiledProgram:
    """A Python function compiled to a BPF program for a hook (`hook_kind`, one of
    `hooks.HOOKS`). Compiles lazily (so that decorating needs no privilege), loads on
    `load()`/`attach()`/`run()`."""

    hook_kind = "socket_filter"

    def __init__(self, pyfunc: Callable[..., Any]) -> None:
        refuse_stacked(pyfunc)
        self.pyfunc = pyfunc
        self.__name__ = pyfunc.__name__
        self.__doc__ = pyfunc.__doc__
        self.__bpf_inline__ = pyfunc
        self._compiled: Compiled | None = None
        self._program: Any = None
        # live attachments: a bare `prog.attach()` stays attached (as bcc's attach_* do)
        # until close()/detach(), instead of ending when the garbage collector takes it
        self._attachments: list[Attachment] = []

    @property
    def prog_type(self) -> str:
        return hooks.hook(self.hook_kind).prog_type

    def where(self) -> dict[str, Any]:
        """The hook's target (see `hooks`)."""
        return {}

    # -- compile ------------------------------------------------------------------------------
    def context(self) -> contexts.Context:
        return contexts.Context(prog_type=self.prog_type)

    @property
    def compiled(self) -> Compiled:
        if self._compiled is None:
            try:
                self._compiled = compile_function(self.pyfunc, self.context())
            except CompileError as e:
                # the user's error is at the position it names: the compiler's own frames
                # (11-18 of them) would only bury it
                raise e.with_traceback(None) from None
        return self._compiled

    @property
    def insns(self) -> list[asm.Instruction]:
        return self.compiled.insns

    @property
    def source_map(self) -> list[tuple[int, Loc]]:
        return self.compiled.source_map

    def disassemble(self) -> str:
        """The instructions in the kernel's syntax, each source line shown before its code."""
        lines: list[str] = []
        last = None
        slot = 0
        for insn in self.insns:
            loc = insn.loc
            if loc is not None and getattr(loc, "line", 0) and (loc.file, loc.line) != last:
                last = (loc.file, loc.line)
                lines.append(f"; {loc.file.rsplit('/', 1)[-1]}:{loc.line}: {loc.text.strip()}")
            lines.append(f"{slot:4}: {asm.disassemble([insn]).strip()}")
            slot += insn.size
        return "\n".join(lines)

    # -- kernel objects -----------------------------------------------------------------------
    @property
    def events(self) -> Any:
        """The ring buffer that `submit()` writes to (None when the program submits nothing)."""
        return self.compiled.objects.events

    @property
    def stacks(self) -> Any:
        return self.compiled.objects.stacks

    def lost_events(self) -> int:
        """Events that submit() could not send because the ring buffer was full (counted in
        the kernel)."""
        counters = self._compiled.objects.counters if self._compiled is not None else None
        return counters.lost() if counters is not None else 0

    def skipped_runs(self) -> int:
        """Runs the kernel did not make because another BPF program was running on that CPU
        (an event inside a BPF program: bpf_prog_info's recursion_misses). Nothing the
        program would have counted or sent for them exists anywhere else."""
        if self._program is None or self._program.closed:
            return 0
        return int(self._program.stats().recursion_misses)

    def refused_updates(self) -> dict[str, int]:
        """Inserts into each hash map that the kernel refused because the map was full, by
        the map's name in the source (only maps with refusals)."""
        counters = self._compiled.objects.counters if self._compiled is not None else None
        return counters.refused() if counters is not None else {}

    def poll(self, timeout_ms: int = -1) -> list[Any]:
        """Records from `submit()`, decoded as the submitted struct type."""
        rb = self.events
        if rb is None:
            return []
        pyclass = getattr(self.compiled.objects.event_type, "pyclass", None)
        records = rb.poll(timeout_ms)
        return [pyclass.from_bytes(r) for r in records] if pyclass else records

    def load(self) -> Any:
        """Load (once) and return the pybpf.Program."""
        if self._program is None or self._program.closed:
            from pybpf.sys import VerifierError

            def replaced(again: Compiled) -> None:
                self._compiled = again

            try:
                self._program = load_retrying(
                    self.compiled, lambda insns: hooks.load(
                        self.hook_kind, insns, self.__name__[:15], **self.where()), replaced)
            except VerifierError as e:
                raise verifier_rejection(e, self.insns, self.compiled.ir) from None
        return self._program

    def close(self, maps: bool = False) -> None:
        """Unload the program. With maps=True also close the maps the compiler created for it
        (the ring buffer of submit(), the stack map of kstack()); they are created anew when
        the program is compiled again. The compiler's own counters (refused inserts) go with
        the program when it has no such maps to read after it ends."""
        self.detach()
        if self._program is not None:
            self._program.close()
            self._program = None
        if self._compiled is not None and not maps and \
                not self._compiled.objects.readable_after_unload():
            maps = True  # nothing of it is left to read: recompiled (~1 ms) if loaded again
        if maps and self._compiled is not None:
            self._compiled.objects.close()
            self._compiled = None

    def attach(self) -> Attachment:
        try:
            return Attachment(self, self.attach_program(self.load()))
        except BaseException:
            if not self._attachments:
                self.close()  # nothing stays (nor its counters) when loading or attaching fails
            raise

    def detach(self) -> None:
        """Detach every attachment of this program (it stays loaded)."""
        for attachment in list(self._attachments):
            attachment.detach()

    def attach_program(self, prog: Any) -> Any:
        if hooks.hook(self.hook_kind).attach is None:
            raise CompileError(f"{type(self).__name__} programs cannot be attached by pybpf; "
                               "load() them and attach by hand")
        return hooks.attach(self.hook_kind, prog, **self.where())

    def __call__(self, *args: Any) -> Any:
        return self.py(*args)

    def py(self, *args: Any) -> Any:
        """Run the function as plain Python with the compiled program's integer semantics."""
        from pybpf.compiler import pyref

        return pyref.run(self, args)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"


class Attachment:
    """A compiled program attached to its hook: a context manager that detaches (and unloads
    the program) on exit."""

    def __init__(self, owner: CompiledProgram, link: Any) -> None:
        self.owner, self.link = owner, link
        owner._attachments.append(self)

    def detach(self) -> None:
        """End this attachment only (the program stays loaded)."""
        if self.link is not None:
            self.link.close()
            self.link = None
        if self in self.owner._attachments:
            self.owner._attachments.remove(self)

    def close(self) -> None:
        """Detach and unload the program."""
        self.detach()
        self.owner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FunctionProgram(CompiledProgram):
    """@bpf.function: integer arguments in, an integer out; runs in the kernel through
    BPF_PROG_TEST_RUN as a `syscall` program (`f.run(...)`) and as Python (`f.py(...)`)."""

    hook_kind = "function"

    def context(self) -> contexts.Context:
        return contexts.FunctionArgs()

    @property
    def nargs(self) -> int:
        return len(source_of(self.pyfunc).tree.args.args)

    def run(self, *args: int) -> int:
        n = self.nargs
        if len(args) != n:
            raise TypeError(f"{self.__name__}() takes {n} arguments, got {len(args)}")
        ctx = struct.pack(f"<{n + 1}Q", *[a & (2**64 - 1) for a in args], 0)
        res = self.load().test_run(ctx=ctx)
        raw = struct.unpack_from("<Q", res.ctx, 8 * n)[0]
        t = self.compiled.ir.ret
        from pybpf.compiler.irtypes import IntT, LitT

        if isinstance(t, IntT) and not isinstance(t, LitT):
            return t.wrap(raw)
        return raw - (1 << 64) if raw >> 63 else raw


class TracepointProgram(CompiledProgram):
    hook_kind = "tracepoint"

    def __init__(self, pyfunc: Callable[..., Any], target: str) -> None:
        super().__init__(pyfunc)
        if ":" not in target:
            raise ValueError(f"tracepoint {target!r}: write it as 'group:name'")
        self.group, self.tp = target.split(":", 1)

    def where(self) -> dict[str, Any]:
        return {"group": self.group, "name": self.tp}

    def context(self) -> contexts.Context:
        from pybpf.btf import BTFError, tracepoint_format
        from pybpf.btf.tracefs import TracefsError
        from pybpf.compiler.errors import UnknownHookError

        try:
            fmt = tracepoint_format(self.group, self.tp)
        except TracefsError as e:
            # the tracepoint may well exist: say why it cannot be read, not that it is unknown
            loc = source_of(self.pyfunc).def_loc()
            raise UnknownHookError(f"cannot look up tracepoint {self.group}:{self.tp}: {e}", loc,
                                   hook=f"tracepoint {self.group}:{self.tp}") from None
        except (BTFError, KeyError, OSError) as e:
            loc = source_of(self.pyfunc).def_loc()
            raise UnknownHookError(f"unknown tracepoint {self.group}:{self.tp}: "
                                   f"{str(e).splitlines()[0]}", loc,
                                   "`pybpf trace -l 'tracepoint:*'` lists them.",
                                   hook=f"tracepoint {self.group}:{self.tp}") from None
        return contexts.Tracepoint(group=self.group, name=self.tp, fmt=fmt)


class RawTracepointProgram(CompiledProgram):
    hook_kind = "raw_tracepoint"

    def __init__(self, pyfunc: Callable[..., Any], name: str) -> None:
        super().__init__(pyfunc)
        self.tp = name

    def where(self) -> dict[str, Any]:
        return {"name": self.tp}

    def context(self) -> contexts.Context:
        from pybpf.btf import kernel_btf
        from pybpf.btf.errors import BTFNotFoundError
        from pybpf.btf.rawtp import raw_tracepoint_args
        from pybpf.compiler.errors import UnknownHookError

        btf = kernel_btf()  # an unreadable BTF is reported as such (BTFError), not as unknown
        try:
            args = raw_tracepoint_args(btf, self.tp)
        except (BTFNotFoundError, KeyError) as e:
            raise UnknownHookError(f"unknown raw tracepoint {self.tp!r}: "
                                   f"{str(e).splitlines()[0]}",
                                   source_of(self.pyfunc).def_loc(),
                                   hook=f"raw tracepoint {self.tp}") from None
        return contexts.RawTracepoint(name=self.tp, args=list(args))


class PerfEventProgram(CompiledProgram):
    hook_kind = "perf_event"

    def __init__(self, pyfunc: Callable[..., Any], type: str, config: str,
                 **options: Any) -> None:
        super().__init__(pyfunc)
        self.type, self.config, self.options = type, config, options

    def where(self) -> dict[str, Any]:
        return {"type": self.type, "config": self.config, **self.options}

    def context(self) -> contexts.Context:
        return contexts.PerfEvent()


class ProbeProgram(CompiledProgram):
    """uprobe / uretprobe / kprobe / kretprobe: a pt_regs context."""

    def __init__(self, pyfunc: Callable[..., Any], kind: str, target: str,
                 symbol: str | int | None = None, **options: Any) -> None:
        super().__init__(pyfunc)
        self.kind, self.target, self.symbol, self.options = kind, target, symbol, options
        self.hook_kind = kind

    def where(self) -> dict[str, Any]:
        if self.kind in ("uprobe", "uretprobe"):
            return {"path": self.target, "symbol": self.symbol, **self.options}
        return {"target": self.target}

    def context(self) -> contexts.Context:
        if self.kind in ("kprobe", "kretprobe"):
            name = self.target.split("+", 1)[0]
            proto = _kernel_proto(name, self.pyfunc, required=False)
            return contexts.KernelFunction(kind=self.kind, function=name, proto=proto)
        return contexts.PtRegs(kind=self.kind)


def _kernel_proto(name: str, pyfunc: Callable[..., Any], required: bool = True) -> Any:
    """The BTF prototype of kernel function `name` (None when the kernel has no BTF for it
    and it is not required)."""
    from pybpf.btf import kernel_btf
    from pybpf.btf.errors import BTFNotFoundError

    btf = kernel_btf()  # an unreadable BTF is reported as such (BTFError), not as unknown
    try:
        return btf.func(name).proto
    except (BTFNotFoundError, KeyError) as e:
        if not required:
            return None
        raise CompileError(f"unknown kernel function {name!r}: {str(e).splitlines()[0]}",
                           source_of(pyfunc).def_loc()) from None


class TrampolineProgram(CompiledProgram):
    """fentry / fexit: arguments typed from BTF, pointers read directly. Loaded through
    pybpf.link.tracing (expected attach type, the function's BTF id, and a clear
    NotSupportedError on kernels without BPF trampolines)."""

    def __init__(self, pyfunc: Callable[..., Any], kind: str, function: str) -> None:
        super().__init__(pyfunc)
        self.kind, self.function = kind, function
        self.hook_kind = kind

    def where(self) -> dict[str, Any]:
        return {"function": self.function}

    def context(self) -> contexts.Context:
        proto = _kernel_proto(self.function, self.pyfunc)
        return contexts.Trampoline(kind=self.kind, function=self.function, proto=proto)


class PacketProgram(CompiledProgram):
    """xdp / tc / socket_filter programs: `ctx.<field>` of xdp_md / __sk_buff, header views
    from pybpf.net. `attach(ifname)` (xdp: `mode=`; tc: `direction="ingress"|"egress"`;
    socket filters: `attach(sock)`), and `test_run(packet)` through BPF_PROG_TEST_RUN."""

    _KINDS = {"xdp": "xdp", "sched_cls": "tc", "socket_filter": "socket_filter"}

    def __init__(self, pyfunc: Callable[..., Any], prog_type: str) -> None:
        super().__init__(pyfunc)
        self.hook_kind = self._KINDS[prog_type]

    def attach(self, target: Any = None, **options: Any) -> Attachment:  # type: ignore[override]
        if target is None:
            raise TypeError(f"{self.__name__}.attach() needs an interface (xdp, tc) or a "
                            "socket (socket_filter)")
        where: dict[str, Any] = {"sock": target} if self.hook_kind == "socket_filter" else \
            {"ifname": target, **options}
        try:
            link = hooks.attach(self.hook_kind, self.load(), **where)
        except BaseException:
            if not self._attachments:
                self.close()  # nothing stays (nor its counters) when loading or attaching fails
            raise
        return Attachment(self, link)

    def test_run(self, packet: bytes, repeat: int = 1) -> Any:
        """Run on one packet in the kernel: (.retval, .data, .duration_ns)."""
        return self.load().test_run(data=packet, repeat=repeat)

    def context(self) -> contexts.Context:
        from pybpf.compiler.pyfront import packets

        return {"xdp": packets.xdp_context, "tc": packets.tc_context,
                "socket_filter": packets.socket_filter_context}[self.hook_kind]()


class InlineFunction:
    """@bpf.inline: a helper function compiled into its callers; as Python it just runs."""

    def __init__(self, pyfunc: Callable[..., Any]) -> None:
        refuse_stacked(pyfunc)
        self.pyfunc = pyfunc
        self.__bpf_inline__ = pyfunc
        self.__name__ = pyfunc.__name__
        self.__doc__ = pyfunc.__doc__

    def __call__(self, *args: Any) -> Any:
        """Plain Python, with the compiled semantics (see pyref)."""
        from pybpf.compiler import pyref

        return pyref.run_inline(self.pyfunc, args)


__all__ = ["Attachment", "Compiled", "CompiledProgram", "FunctionProgram", "InlineFunction",
           "PacketProgram", "PerfEventProgram", "ProbeProgram", "RawTracepointProgram",
           "TracepointProgram", "TrampolineProgram", "compile_function", "verifier_rejection"]
