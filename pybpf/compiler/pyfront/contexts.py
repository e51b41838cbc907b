"""What `ctx` and the parameters mean for each kind of program.

A context model answers: which parameters the function has and how they are loaded, what
`ctx.<name>` is, and how the program returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler import intrinsics, ir
from pybpf.compiler.errors import CompileError, KernelFormatError, Loc
from pybpf.compiler.intrinsics import ARG_REGS, PT_REGS
from pybpf.compiler.irtypes import (
    LIT,
    U64,
    ArrayT,
    IntT,
    PtrT,
    StructT,
    Type,
    str_type,
)
from pybpf.compiler.kmembers import BTFRef, btf_to_ir, c_pointer_type


@dataclass
class Context:
    """The base model: no context fields."""

    kind: str = "generic"
    prog_type: str = "socket_filter"
    ret: Type = field(default_factory=lambda: LIT)
    default_return: int = 0

    def params(self, names: list[str], annotations: list[Type | None],
               loc: Loc) -> list[tuple[str, Type, ir.Expr | None]]:
        """(name, type, initial value) of each parameter; the first is ctx for probes."""
        if len(names) > 1:
            raise CompileError(f"{self.kind} programs take one parameter (ctx); got "
                               f"{len(names)}", loc)
        return []

    def field(self, name: str, loc: Loc) -> ir.Expr:
        raise CompileError(f"{self.kind} programs have no context field {name!r}", loc)

    def ret_mode(self) -> str:
        return "r0"


@dataclass
class FunctionArgs(Context):
    """bpf.function: integer arguments in a u64 array context; the result is written after
    them (the kernel copies the context back), so 64-bit results survive."""

    kind: str = "function"
    prog_type: str = "syscall"
    nargs: int = 0
    ret: Type = field(default_factory=lambda: U64)

    def params(self, names: list[str], annotations: list[Type | None],
               loc: Loc) -> list[tuple[str, Type, ir.Expr | None]]:
        self.nargs = len(names)
        out: list[tuple[str, Type, ir.Expr | None]] = []
        for i, (name, t) in enumerate(zip(names, annotations, strict=True)):
            t = t or U64
            if not isinstance(t, IntT):
                raise CompileError(f"parameter {name!r} of a bpf.function must be an integer "
                                   f"type (u8..u64, s8..s64), not {t}", loc)
            load = ir.CtxLoad(t, 8 * i, 8, loc=loc)
            out.append((name, t, ir.Cast(t, load, loc=loc)))
        return out

    def ret_mode(self) -> str:
        return f"ctx:{8 * self.nargs}"


@dataclass
class Tracepoint(Context):
    """Classic tracepoint: the record laid out as the tracefs format file says."""

    kind: str = "tracepoint"
    prog_type: str = "tracepoint"
    group: str = ""
    name: str = ""
    fmt: Any = None

    def field(self, name: str, loc: Loc) -> ir.Expr:
        try:
            f = self.fmt.field(name)
        except KeyError as e:
            names = ", ".join(x.name for x in self.fmt.fields)
            raise KernelFormatError(
                f"tracepoint {self.group}:{self.name} has no field {name!r}", loc,
                f"Its fields: {names or '(none)'}. {_suggest(e)}".rstrip(),
                event=f"{self.group}:{self.name}") from None
        return tracepoint_field(f, self.group, loc, self.name)


def tracepoint_field(f: Any, group: str, loc: Loc, name: str = "") -> ir.Expr:
    space = "user" if group == "syscalls" else "kernel"
    if not f.is_array and not f.is_data_loc and f.size not in (1, 2, 4, 8):
        event = f"{group}:{name}" if name else group
        raise KernelFormatError(
            f"the kernel's format of tracepoint {event} gives field {f.name!r} a size of "
            f"{f.size} bytes, which is not an integer or pointer size", loc,
            "The tracefs format file looks damaged.", event=event)
    if f.is_data_loc:
        # __data_loc: a u32 (length << 16 | offset of the data inside the record); the value
        # is the data's address, which str() reads
        return ir.CtxDataLoc(PtrT(IntT(8, True), "kernel"), f.offset, loc=loc)
    if f.is_array:
        n = f.array_len or 0
        elem = _int_type(f.elem_type, f.size // max(n, 1), f.signed)
        t = str_type(n) if f.elem_type == "char" else ArrayT(elem, n)
        return ir.CtxArray(t, f.offset, loc=loc)
    if f.is_pointer:
        return ir.CtxLoad(c_pointer_type(f.c_type, space), f.offset, 8, loc=loc)
    return ir.CtxLoad(IntT(f.size * 8, f.signed), f.offset, f.size, loc=loc)


def _int_type(c_type: str, size: int, signed: bool) -> IntT:
    size = size if size in (1, 2, 4, 8) else 8
    return IntT(size * 8, signed)


def _suggest(e: Exception) -> str:
    sug = getattr(e, "suggestions", None)
    return f"Did you mean {sug[0]!r}?" if sug else ""


@dataclass
class RawTracepoint(Context):
    """Raw tracepoint: ctx is an array of u64 arguments, typed from the tracepoint's BTF."""

    kind: str = "raw_tracepoint"
    prog_type: str = "raw_tracepoint"
    name: str = ""
    args: list[tuple[str, Any]] = field(default_factory=list)  # (name, BTF type)

    def field(self, name: str, loc: Loc) -> ir.Expr:
        for i, (arg, btype) in enumerate(self.args):
            if arg == name:
                return ir.CtxLoad(btf_to_ir(btype), 8 * i, 8, loc=loc)
        if name == "args":
            return ir.CtxArray(ArrayT(U64, max(len(self.args), 1)), 0, loc=loc)
        names = ", ".join(a for a, _ in self.args)
        raise CompileError(f"raw tracepoint {self.name} has no argument {name!r}", loc,
                           f"Its arguments: {names}.")


MAX_UPROBE_ARGS = 12  # six registers, then six 8-byte slots of the caller's stack


@dataclass
class PtRegs(Context):
    """uprobe/uretprobe/kprobe: ctx is struct pt_regs; `ctx.arg0..5`, `ctx.retval`, and
    registers by name (`ctx.ip`, `ctx.sp`)."""

    kind: str = "uprobe"
    prog_type: str = "kprobe"
    base: int = 0  # offset of pt_regs inside the context (perf_event: 0 as well)

    def params(self, names: list[str], annotations: list[Type | None],
               loc: Loc) -> list[tuple[str, Type, ir.Expr | None]]:
        """uprobe: the parameters after ctx are the function's arguments by position
        (`def f(ctx, fd, buf, count)`), u64 unless annotated; the first six from registers,
        then from the process's stack."""
        extra = list(zip(names[1:], annotations[1:], strict=True))
        if not extra:
            return []
        if self.kind != "uprobe":
            hint = ("A uretprobe runs when the function returns: its arguments are gone "
                    "(only ctx.retval is left); a uprobe names them: def f(ctx, fd, buf, "
                    "count).") if self.kind == "uretprobe" else ""
            raise CompileError(f"{self.kind} programs take one parameter (ctx); got "
                               f"{len(names)}", loc, hint)
        if len(extra) > MAX_UPROBE_ARGS:
            raise CompileError(f"a uprobe names at most {MAX_UPROBE_ARGS} arguments after "
                               f"ctx; got {len(extra)}", loc,
                               "The first six are also ctx.arg0..ctx.arg5.")
        out: list[tuple[str, Type, ir.Expr | None]] = []
        for i, (name, t) in enumerate(extra):
            t = t or U64
            if not isinstance(t, IntT):
                raise CompileError(f"argument {name!r} of a uprobe must be an integer type "
                                   f"(u8..u64, s8..s64), not {t}", loc,
                                   "Pointers are u64: read through them with str(p, n) or "
                                   "user_str(p).")
            out.append((name, t, intrinsics.argument(i, loc, t, self.base, space="user")))
        return out

    def field(self, name: str, loc: Loc) -> ir.Expr:
        if name.startswith("arg") and name[3:].isdigit() and int(name[3:]) < len(ARG_REGS):
            reg = ARG_REGS[int(name[3:])]
        elif name in ("retval", "ret"):
            reg = "ax"
        elif name in PT_REGS:
            reg = name
        else:
            raise CompileError(f"{self.kind} programs have no context field {name!r}", loc,
                               "Use ctx.arg0..ctx.arg5, ctx.retval, or a register name "
                               "(ctx.ip, ctx.sp, ...).")
        return intrinsics.register(reg, loc, base=self.base)


@dataclass
class KernelFunction(PtRegs):
    """kprobe/kretprobe on a kernel function: the parameters after ctx are the function's
    arguments, named as the program names them and typed from the function's BTF prototype
    (read from the argument registers); `ctx.retval` is typed from its return type."""

    function: str = ""
    proto: Any = None

    def params(self, names: list[str], annotations: list[Type | None],
               loc: Loc) -> list[tuple[str, Type, ir.Expr | None]]:
        args = [tuple(p) for p in self.proto.params] if self.proto is not None else []
        extra = names[1:]
        if len(extra) > min(len(args), len(ARG_REGS)):
            raise CompileError(f"{self.function}() has {len(args)} arguments; the program "
                               f"names {len(extra)} after ctx", loc,
                               f"Its prototype: {self.proto}.")
        out: list[tuple[str, Type, ir.Expr | None]] = []
        for i, name in enumerate(extra):
            t = btf_to_ir(args[i][1])
            out.append((name, t, intrinsics.argument(i, loc, t, self.base)))
        return out

    def field(self, name: str, loc: Loc) -> ir.Expr:
        if name in ("retval", "ret") and self.proto is not None:
            return intrinsics.return_value(loc, btf_to_ir(self.proto.ret), self.base)
        return super().field(name, loc)


@dataclass
class Trampoline(Context):
    """fentry/fexit: ctx is an array of u64 arguments (fexit: then the return value), typed
    from the function's BTF; pointer arguments are BTF-typed and read directly."""

    kind: str = "fentry"
    prog_type: str = "tracing"
    function: str = ""
    proto: Any = None

    def params(self, names: list[str], annotations: list[Type | None],
               loc: Loc) -> list[tuple[str, Type, ir.Expr | None]]:
        args = [tuple(p) for p in self.proto.params]
        extra = names[1:]
        if len(extra) > len(args):
            raise CompileError(f"{self.function}() has {len(args)} arguments; the program "
                               f"names {len(extra)} after ctx", loc,
                               f"Its prototype: {self.proto}.")
        return [(name, t, ir.CtxLoad(t, 8 * i, 8, loc=loc))
                for i, name in enumerate(extra)
                for t in [_btf_space(btf_to_ir(args[i][1]))]]

    def field(self, name: str, loc: Loc) -> ir.Expr:
        if name in ("retval", "ret") and self.kind == "fexit":
            t = _btf_space(btf_to_ir(self.proto.ret))
            return ir.CtxLoad(t, 8 * len(self.proto.params), 8, loc=loc)
        if name.startswith("arg") and name[3:].isdigit() and int(name[3:]) < len(
                self.proto.params):
            i = int(name[3:])
            _, ptype = tuple(self.proto.params[i])
            return ir.CtxLoad(_btf_space(btf_to_ir(ptype)), 8 * i, 8, loc=loc)
        raise CompileError(f"{self.kind} programs have no context field {name!r}", loc,
                           "Name the function's arguments as parameters after ctx, or use "
                           "ctx.arg0.. (and ctx.retval in fexit).")


def _btf_space(t: Type) -> Type:
    """Pointers handed to trampolines are BTF-typed: the verifier allows direct reads."""
    if isinstance(t, PtrT) and isinstance(t.target, BTFRef):
        return PtrT(t.target, "btf")
    return t


@dataclass
class PerfEvent(PtRegs):
    """perf_event: struct bpf_perf_event_data {pt_regs regs; u64 sample_period; u64 addr}."""

    kind: str = "perf_event"
    prog_type: str = "perf_event"

    def field(self, name: str, loc: Loc) -> ir.Expr:
        if name == "sample_period":
            return ir.CtxLoad(U64, 168, 8, loc=loc)
        if name == "addr":
            return ir.CtxLoad(U64, 176, 8, loc=loc)
        return super().field(name, loc)


def BTFStruct(t: Any) -> BTFRef:  # noqa: N802 - reads as a type
    return BTFRef(t)


__all__ = ["Context", "FunctionArgs", "PerfEvent", "PtRegs", "RawTracepoint",
           "Tracepoint", "btf_to_ir", "BTFRef", "StructT", "tracepoint_field"]
