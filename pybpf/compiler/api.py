"""The decorators (`bpf.tracepoint`, `bpf.function`, ...) and the compiled-program objects
they return: compile on first use, load, attach, run through BPF_PROG_TEST_RUN, and show the
code with its source lines."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

from pybpf import asm
from pybpf.compiler import codegen, ir
from pybpf.compiler.errors import CompileError, InternalCompilerError, Loc, VerifierLimitError
from pybpf.compiler.pyfront import contexts
from pybpf.compiler.pyfront.lower import Lowerer
from pybpf.compiler.pyfront.source import source_of


@dataclass
class Compiled:
    """What the compiler produced for one function."""

    ir: ir.Function
    insns: list[asm.Instruction]
    extra: dict[str, Any]
    var_types: dict[str, Any]

    @property
    def source_map(self) -> list[tuple[int, Loc]]:
        """(slot index, source position) of every instruction."""
        out, slot = [], 0
        for insn in self.insns:
            out.append((slot, insn.loc))
            slot += insn.size
        return out


def compile_function(pyfunc: Callable[..., Any], context: contexts.Context) -> Compiled:
    src = source_of(pyfunc)
    lw = Lowerer(src, context)
    try:
        fn = lw.lower_function(pyfunc.__name__)
        from pybpf.compiler import fold

        fold.run(fn)
        _count_refused_updates(fn, lw.extra)
        cg = codegen.CodeGen(fn)
        insns = cg.generate()
    except CompileError:
        raise
    except Exception as e:  # a compiler bug: still one clear message, with the place
        loc = getattr(locals().get("cg"), "cur_loc", None) or src.loc(None)
        raise CompileError(f"internal compiler error ({type(e).__name__}: {e})", loc,
                           "This is a bug in pybpf's compiler; please report it with this "
                           "source.") from e
    return Compiled(fn, insns, lw.extra, {k: v.type for k, v in lw.vars.items()})


def _count_refused_updates(fn: ir.Function, extra: dict[str, Any]) -> None:
    """Give every hash map the program inserts into a counter of the inserts it refuses
    (it is full), in one array of `extra["refused"]`: `refused_updates()` reads them. LRU
    maps make room instead, arrays hold every index."""
    from pybpf import maps
    from pybpf.compiler import analysis

    refs: dict[int, ir.MapRef] = {}
    for node in analysis.walk(fn.body):
        if isinstance(node, ir.MapUpdate | ir.MapAdd | ir.MapStoreField) and \
                node.map.kind == "hash" and not isinstance(
                    node.map.obj, maps.LRUHash | maps.LRUPerCPUHash):
            refs.setdefault(id(node.map), node.map)
    if not refs:
        return
    counter = maps.Array(value=8 * len(refs), max_entries=1, name="refused")
    extra["refused"] = counter
    extra["refused_maps"] = [ref.name for ref in refs.values()]
    for k, ref in enumerate(refs.values()):
        ref.failed = (counter, 8 * k)


class CompiledProgram:
    """A Python function compiled to a BPF program of some kind. Compiles lazily (so that
    decorating needs no privilege), loads on `load()`/`attach()`/`run()`."""

    prog_type = "socket_filter"

    def __init__(self, pyfunc: Callable[..., Any]) -> None:
        self.pyfunc = pyfunc
        self.__name__ = pyfunc.__name__
        self.__doc__ = pyfunc.__doc__
        self.__bpf_inline__ = pyfunc
        self._compiled: Compiled | None = None
        self._program: Any = None

    # -- compile ------------------------------------------------------------------------------
    def context(self) -> contexts.Context:
        return contexts.Context(prog_type=self.prog_type)

    @property
    def compiled(self) -> Compiled:
        if self._compiled is None:
            self._compiled = compile_function(self.pyfunc, self.context())
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
        return self.compiled.extra.get("events")

    @property
    def stacks(self) -> Any:
        return self.compiled.extra.get("stacks")

    def lost_events(self) -> int:
        """Events that submit() could not send because the ring buffer was full (counted in
        the kernel)."""
        if self._compiled is None:
            return 0
        lost = self._compiled.extra.get("lost")
        return int(lost.get(0, 0)) if lost is not None and not lost.fd.closed else 0

    def refused_updates(self) -> dict[str, int]:
        """Inserts into each hash map that the kernel refused because the map was full, by
        the map's name in the source (only maps with refusals)."""
        if self._compiled is None:
            return {}
        counter = self._compiled.extra.get("refused")
        if counter is None or counter.fd.closed:
            return {}
        raw = counter.get(0)
        names = self._compiled.extra["refused_maps"]
        counts = (int.from_bytes(raw[8 * k:8 * k + 8], "little") for k in range(len(names)))
        return {name: n for name, n in zip(names, counts, strict=True) if n}

    def poll(self, timeout_ms: int = -1) -> list[Any]:
        """Records from `submit()`, decoded as the submitted struct type."""
        rb = self.events
        if rb is None:
            return []
        t = self.compiled.extra.get("event_type")
        pyclass = getattr(t, "pyclass", None)
        records = rb.poll(timeout_ms)
        return [pyclass.from_bytes(r) for r in records] if pyclass else records

    def load(self) -> Any:
        """Load (once) and return the pybpf.Program."""
        if self._program is None or self._program.closed:
            from pybpf.program import Program
            from pybpf.sys import VerifierError

            try:
                self._program = Program.load(self.prog_type, self.insns,
                                             name=self.__name__[:15], **self.load_args())
            except VerifierError as e:
                raise verifier_rejection(e, self.insns, self.compiled.ir) from None
        return self._program

    def load_args(self) -> dict[str, Any]:
        return {}

    def close(self, maps: bool = False) -> None:
        """Unload the program. With maps=True also close the maps the compiler created for it
        (the ring buffer of submit(), the stack map of kstack()); they are created anew when
        the program is compiled again. The compiler's own counters (refused inserts) go with
        the program when it has no such maps to read after it ends."""
        if self._program is not None:
            self._program.close()
            self._program = None
        if self._compiled is not None and not maps and not any(
                self._compiled.extra.get(name) is not None for name in ("events", "stacks")):
            maps = True  # nothing of it is left to read: recompiled (~1 ms) if loaded again
        if maps and self._compiled is not None:
            for name in ("events", "stacks", "lost", "refused"):
                m = self._compiled.extra.get(name)
                if m is not None:
                    m.close()
            self._compiled = None

    def attach(self) -> Attachment:
        try:
            return Attachment(self, self.attach_program(self.load()))
        except BaseException:
            self.close()  # nothing stays (nor its counters) when loading or attaching fails
            raise

    def attach_program(self, prog: Any) -> Any:
        raise CompileError(f"{type(self).__name__} programs cannot be attached by pybpf; "
                           "load() them and attach by hand")

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

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        self.owner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# the verifier's complexity limits (kernel/bpf/verifier.c), as its log words them
_VERIFIER_LIMITS = ("BPF program is too large", "jumps is too complex",
                    "too many states")


def verifier_rejection(e: Any, insns: list[asm.Instruction],
                    fn: ir.Function | None = None) -> CompileError:
    """The compile error for a verifier rejection: a loop the verifier gave up on (at the
    outermost loop around the instruction it stopped at), else a compiler bug."""
    loc = None
    if e.insn_index is not None:
        slot = 0
        for insn in insns:
            if slot == e.insn_index:
                loc = insn.loc
                break
            slot += insn.size
    limit = next((m for m in _VERIFIER_LIMITS if m in e.log), None)
    if limit is not None:
        loop = _loop_around(fn, loc) if fn is not None else None
        reason = next((ln.strip() for ln in reversed(e.log.splitlines()) if limit in ln), limit)
        return VerifierLimitError(
            "this loop is too much for the verifier: following every path through every "
            f"iteration exceeded its limits ({reason})", loop.loc if loop else loc,
            "Loop fewer times, take fewer branches inside the loop (each undecided if/else "
            "or conditional expression can double the paths to check), or spread the work "
            "over many events.")
    return InternalCompilerError(str(e), loc, e.log)


def _loop_around(fn: ir.Function, loc: Loc | None) -> ir.Loop | None:
    """The outermost loop whose code includes source position `loc` (None if none)."""
    if loc is None or not getattr(loc, "line", 0):
        return None
    from pybpf.compiler import analysis

    where = (loc.file, loc.line, loc.col)
    for node in analysis.walk(fn.body):  # outer loops come first
        if isinstance(node, ir.Loop) and any(
                (n.loc.file, n.loc.line, n.loc.col) == where
                for n in analysis.walk(node.body) if n.loc is not None):
            return node
    return None


class FunctionProgram(CompiledProgram):
    """@bpf.function: integer arguments in, an integer out; runs in the kernel through
    BPF_PROG_TEST_RUN as a `syscall` program (`f.run(...)`) and as Python (`f.py(...)`)."""

    prog_type = "syscall"

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
    prog_type = "tracepoint"

    def __init__(self, pyfunc: Callable[..., Any], target: str) -> None:
        super().__init__(pyfunc)
        if ":" not in target:
            raise ValueError(f"tracepoint {target!r}: write it as 'group:name'")
        self.group, self.tp = target.split(":", 1)

    def context(self) -> contexts.Context:
        from pybpf.btf import BTFError, tracepoint_format

        try:
            fmt = tracepoint_format(self.group, self.tp)
        except (BTFError, KeyError, OSError) as e:
            loc = source_of(self.pyfunc).def_loc()
            raise CompileError(f"unknown tracepoint {self.group}:{self.tp}: "
                               f"{str(e).splitlines()[0]}", loc,
                               "`pybpf trace -l 'tracepoint:*'` lists them.") from None
        return contexts.Tracepoint(group=self.group, name=self.tp, fmt=fmt)

    def attach_program(self, prog: Any) -> Any:
        from pybpf import attach

        return attach.tracepoint(prog, self.group, self.tp)


class RawTracepointProgram(CompiledProgram):
    prog_type = "raw_tracepoint"

    def __init__(self, pyfunc: Callable[..., Any], name: str) -> None:
        super().__init__(pyfunc)
        self.tp = name

    def context(self) -> contexts.Context:
        from pybpf.btf import kernel_btf
        from pybpf.btf.errors import BTFNotFoundError
        from pybpf.btf.rawtp import raw_tracepoint_args

        btf = kernel_btf()  # an unreadable BTF is reported as such (BTFError), not as unknown
        try:
            args = raw_tracepoint_args(btf, self.tp)
        except (BTFNotFoundError, KeyError) as e:
            raise CompileError(f"unknown raw tracepoint {self.tp!r}: {str(e).splitlines()[0]}",
                               source_of(self.pyfunc).def_loc()) from None
        return contexts.RawTracepoint(name=self.tp, args=list(args))

    def attach_program(self, prog: Any) -> Any:
        from pybpf import attach

        return attach.raw_tracepoint(prog, self.tp)


class PerfEventProgram(CompiledProgram):
    prog_type = "perf_event"

    def __init__(self, pyfunc: Callable[..., Any], type: str, config: str,
                 **options: Any) -> None:
        super().__init__(pyfunc)
        self.type, self.config, self.options = type, config, options

    def context(self) -> contexts.Context:
        return contexts.PerfEvent()

    def attach_program(self, prog: Any) -> Any:
        from pybpf import attach

        return attach.perf_event(prog, self.type, self.config, **self.options)


class ProbeProgram(CompiledProgram):
    """uprobe / uretprobe / kprobe / kretprobe: a pt_regs context."""

    prog_type = "kprobe"

    def __init__(self, pyfunc: Callable[..., Any], kind: str, target: str,
                 symbol: str | int | None = None, **options: Any) -> None:
        super().__init__(pyfunc)
        self.kind, self.target, self.symbol, self.options = kind, target, symbol, options

    def context(self) -> contexts.Context:
        if self.kind in ("kprobe", "kretprobe"):
            name = self.target.split("+", 1)[0]
            proto = _kernel_proto(name, self.pyfunc, required=False)
            return contexts.KernelFunction(kind=self.kind, function=name, proto=proto)
        return contexts.PtRegs(kind=self.kind)

    def attach_program(self, prog: Any) -> Any:
        from pybpf import attach

        if self.kind in ("uprobe", "uretprobe"):
            return attach.uprobe(prog, self.target, self.symbol,
                                 retprobe=self.kind == "uretprobe", **self.options)
        return attach.kprobe(prog, self.target, retprobe=self.kind == "kretprobe")


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
    """fentry / fexit: arguments typed from BTF, pointers read directly."""

    prog_type = "tracing"

    def __init__(self, pyfunc: Callable[..., Any], kind: str, function: str) -> None:
        super().__init__(pyfunc)
        self.kind, self.function = kind, function

    def context(self) -> contexts.Context:
        proto = _kernel_proto(self.function, self.pyfunc)
        return contexts.Trampoline(kind=self.kind, function=self.function, proto=proto)

    def load(self) -> Any:
        """Load through pybpf.link.tracing (expected attach type, the function's BTF id, and
        a clear NotSupportedError on kernels without BPF trampolines)."""
        if self._program is None or self._program.closed:
            from pybpf.link.tracing import load_tracing
            from pybpf.sys import VerifierError

            try:
                self._program = load_tracing(self.kind, self.insns, self.function,
                                             name=self.__name__[:15])
            except VerifierError as e:
                raise verifier_rejection(e, self.insns, self.compiled.ir) from None
        return self._program

    def attach_program(self, prog: Any) -> Any:
        from pybpf import attach

        return attach.fentry(prog) if self.kind == "fentry" else attach.fexit(prog)


class PacketProgram(CompiledProgram):
    """xdp / tc / socket_filter programs: `ctx.<field>` of xdp_md / __sk_buff, header views
    from pybpf.net. `attach(ifname)` (xdp: `mode=`; tc: `direction="ingress"|"egress"`;
    socket filters: `attach(sock)`), and `test_run(packet)` through BPF_PROG_TEST_RUN."""

    def __init__(self, pyfunc: Callable[..., Any], prog_type: str) -> None:
        super().__init__(pyfunc)
        self.prog_type = prog_type

    def attach(self, target: Any = None, **options: Any) -> Attachment:  # type: ignore[override]
        from pybpf import attach

        if target is None:
            raise TypeError(f"{self.__name__}.attach() needs an interface (xdp, tc) or a "
                            "socket (socket_filter)")
        try:
            prog = self.load()
            if self.prog_type == "xdp":
                link = attach.xdp(prog, target, **options)
            elif self.prog_type == "sched_cls":
                link = attach.tc(prog, target, options.pop("direction", "ingress"))
            else:
                link = attach.socket_filter(prog, target)
        except BaseException:
            self.close()  # nothing stays (nor its counters) when loading or attaching fails
            raise
        return Attachment(self, link)

    def test_run(self, packet: bytes, repeat: int = 1) -> Any:
        """Run on one packet in the kernel: (.retval, .data, .duration_ns)."""
        return self.load().test_run(data=packet, repeat=repeat)

    def context(self) -> contexts.Context:
        from pybpf.compiler.pyfront import packets

        return {"xdp": packets.xdp_context, "sched_cls": packets.tc_context,
                "socket_filter": packets.socket_filter_context}[self.prog_type]()


class InlineFunction:
    """@bpf.inline: a helper function compiled into its callers; as Python it just runs."""

    def __init__(self, pyfunc: Callable[..., Any]) -> None:
        self.pyfunc = pyfunc
        self.__bpf_inline__ = pyfunc
        self.__name__ = pyfunc.__name__
        self.__doc__ = pyfunc.__doc__

    def __call__(self, *args: Any) -> Any:
        """Plain Python, with the compiled semantics (see pyref)."""
        from pybpf.compiler import pyref

        return pyref.run_inline(self.pyfunc, args)


def iter_records(program: CompiledProgram, timeout_ms: int = 100) -> Iterator[Any]:
    while True:
        yield from program.poll(timeout_ms)
