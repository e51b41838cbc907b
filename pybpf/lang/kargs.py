"""The builtins of kernel-function probes lowered to IR: kprobe `arg0..argN` (raw registers,
then the stack), kretprobe `retval` (the return register, typed from the function's BTF
prototype when there is one), kfunc/kretfunc `args->name` (the trampoline's u64 context,
typed from BTF) and kretfunc `retval` (after the arguments)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybpf.compiler import intrinsics, ir
from pybpf.compiler.intrinsics import PT_REGS
from pybpf.compiler.irtypes import U64, IntT
from pybpf.lang import ast
from pybpf.lang.types import LT, UINT64

if TYPE_CHECKING:
    from pybpf.lang.lower import TV, ProbeLowerer

def kprobe_arg(lw: ProbeLowerer, e: ast.Ident, i: int) -> TV:
    """argN of a kprobe: a register for the first six, then the caller's stack (as bpftrace:
    the return address at sp, argument 6 at sp+8)."""
    return intrinsics.argument(i, e.loc), UINT64


def _lt_of(btf_type: Any) -> LT | None:
    """The language type of a BTF type (None: not a scalar the language can hold)."""
    t = btf_type.resolve() if hasattr(btf_type, "resolve") else btf_type
    kind = getattr(t, "kind", "")
    if kind == "int":
        if getattr(t, "is_bool", False):
            return LT("int", 8, False)
        size = t.size if t.size in (1, 2, 4, 8) else 8
        return LT("int", size * 8, bool(t.signed))
    if kind in ("enum", "enum64"):
        size = t.size if t.size in (1, 2, 4, 8) else 8
        return LT("int", size * 8, bool(getattr(t, "signed", False)))
    if kind == "ptr":
        # untagged pointers may hold user addresses (a syscall's filename): str() reads
        # them with bpf_probe_read_str, which takes either on x86
        return LT("ptr", 64, False, fmt="user" if _user_tagged(btf_type) else "")
    return None


def _user_tagged(btf_type: Any) -> bool:
    """A pointer whose target carries the `user` type tag (kernels built with type tags)."""
    ptr = btf_type.resolve()
    t = getattr(ptr, "target", None)
    for _ in range(8):
        if t is None or getattr(t, "kind", "") not in ("type_tag", "const", "volatile",
                                                       "restrict", "typedef"):
            return False
        if t.kind == "type_tag" and t.name == "user":
            return True
        t = getattr(t, "target", None)
    return False


def _load(off: int, lt: LT, loc: ast.Loc) -> ir.Expr:
    """A u64 slot of the context, narrowed to the type (upper bits of a register holding an
    int are not guaranteed)."""
    raw = ir.CtxLoad(U64, off, 8, loc=loc)
    if lt.kind == "int" and lt.bits < 64:
        return ir.Cast(IntT(lt.bits, lt.signed), raw, loc=loc)
    if lt.kind == "int" and lt.signed:
        return ir.Cast(IntT(64, True), raw, loc=loc)
    return raw


def _target(lw: ProbeLowerer) -> Any:
    from pybpf.lang import kfuncs

    p = lw.probe
    return kfuncs.target(p.name, p.target, lw.tree.specs[0].loc)


def arg_names(lw: ProbeLowerer) -> str:
    return ", ".join(a.name for a in _target(lw).ctx_args()) or "none"


def kfunc_field(lw: ProbeLowerer, e: ast.Field) -> TV:
    """args->name (or args.name) of a kfunc/kretfunc probe."""
    tgt = _target(lw)
    for a in tgt.ctx_args():
        if a.name == e.name:
            lt = _lt_of(a.type)
            if lt is None or a.slots != 1:
                raise lw.error(e, f"args->{e.name} of {lw.probe.name}() is a {a.type} passed by "
                                  "value, which pybpf trace cannot hold yet")
            return _load(a.offset, lt, e.loc), lt
    raise lw.error(e, f"{lw.probe.name}() has no argument {e.name!r}",
                   f"Its arguments: {arg_names(lw)}.")


def retval(lw: ProbeLowerer, e: ast.Ident) -> TV:
    """retval in kretprobe (the return register) and kretfunc (after the arguments)."""
    from pybpf.lang import kfuncs

    p, loc = lw.probe, e.loc
    if p.kind == "kretfunc":
        tgt = _target(lw)
        lt = _ret_lt(lw, e, tgt.proto)
        return _load(tgt.ret_offset, lt, loc), lt
    proto = kfuncs.proto(p.name) if not p.target else None
    lt = UINT64 if proto is None else _ret_lt(lw, e, proto)
    if proto is None:
        return intrinsics.return_value(loc), lt
    return _load(PT_REGS["ax"], lt, loc), lt


def _ret_lt(lw: ProbeLowerer, e: ast.Ident, proto: Any) -> LT:
    ret = getattr(proto, "ret", None)
    if ret is None or ret.resolve().kind == "void":
        raise lw.error(e, f"{lw.probe.name}() returns nothing (void): retval has no value")
    lt = _lt_of(ret)
    if lt is None:
        raise lw.error(e, f"{lw.probe.name}() returns a {ret}, which pybpf trace cannot hold")
    return lt
