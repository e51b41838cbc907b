"""Kernel structs in one-liners: typed pointers and the fields behind them, as bpftrace
writes them: `curtask->real_parent->tgid`, `((struct sock *)arg0)->__sk_common.skc_dport`,
`$t->comm`, `$task->cpus_mask.bits[0]`, `*(int32 *)ptr`. The member reads themselves are the
shared kernel-knowledge layer's (compiler.kmembers); here they get the language's types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybpf.compiler import intrinsics, ir, kmembers
from pybpf.compiler.irtypes import U64, ArrayT, IntT, PtrT, Type, str_type
from pybpf.compiler.kmembers import BTFRef
from pybpf.lang import ast
from pybpf.lang.types import LT, string

if TYPE_CHECKING:
    from pybpf.lang.lower import TV, ProbeLowerer

# bpftrace's integer type names in casts, as IR types
INT_NAMES = {f"{'u' if u else ''}int{b}": IntT(b, not u) for b in (8, 16, 32, 64)
             for u in (False, True)}


def pointer(target: Type | None, space: str = "kernel") -> LT:
    """The language type of a pointer to `target` (an IR type: BTFRef, IntT, PtrT)."""
    return LT("ptr", 64, False, fmt=space, target=target)


def kernel_struct(name: str, script: Any = None) -> BTFRef | None:
    """BTFRef of `struct name` / `union name`: declared in the script (`script`, its split
    BTF, wins as in bpftrace), else in the kernel's BTF (None: in neither)."""
    if script is not None:
        for t in script.find_all(name):
            if t.id >= script.first_id:
                return BTFRef(t)
    return kmembers.kernel_type(name)


def c_pointer_target(c_type: str) -> Type | None:
    """What a tracepoint field declared `c_type` ("struct __kernel_timespec *",
    "const int *") points to, for fields read through it; None for char * (str() reads it)
    and for what is not known."""
    t = kmembers.c_pointer_type(c_type, "kernel").target
    if isinstance(t, IntT) and t.bits == 8 and "char" in c_type:
        return None
    return t


def task_pointer(script: Any = None) -> LT:
    """curtask: a struct task_struct * (an untyped pointer where BTF cannot be read); a
    script's own `struct task_struct` declaration wins, as in bpftrace."""
    return pointer(kernel_struct("struct task_struct", script))


def cast_target(lw: ProbeLowerer, e: ast.Cast) -> Type | None:
    """What `(type *)x` points to: a BTF struct, a bpftrace integer type, or a pointer
    (`(uint64 **)`); None for `(void *)`."""
    base = e.type_name.rstrip("* ")
    stars = e.type_name.count("*")
    if base in INT_NAMES:
        t: Type | None = INT_NAMES[base]
    elif base == "void":
        t = None
    elif base.startswith(("struct ", "union ")):
        t = kernel_struct(base, lw.comp.script_types())
        if t is None:
            from pybpf.btf import BTFError, kernel_btf

            try:
                close = kernel_btf().suggest(base.split()[1], base.split()[0])
            except (BTFError, OSError):
                close = []
            raise lw.error(e, f"unknown type {base!r}: the kernel's BTF has no such type",
                           f"Did you mean {' or '.join('struct ' + c for c in close)}?"
                           if close else "")
    else:
        raise lw.error(e, f"unknown type {base!r} in cast",
                       "Casts take int8..int64, uint8..uint64, struct NAME or union NAME, "
                       "with * for pointers.")
    for _ in range(stars - 1):
        t = PtrT(t, "kernel")
    return t


def is_struct_access(lt: LT) -> bool:
    return lt.kind == "record" or (lt.kind == "ptr" and isinstance(lt.target, BTFRef))


def field(lw: ProbeLowerer, e: ast.Field, value: ir.Expr, lt: LT) -> TV:
    """e.base->name (or .name) of a kernel struct pointer or embedded struct."""
    loc = e.loc
    space = lt.fmt or "kernel"
    try:
        read, mtype = kmembers.member(lw._as(value, U64), lt.target, space, e.name, loc)
    except kmembers.MemberError as err:
        raise lw.error(e, str(err), err.hint) from None
    return typed(lw, read, mtype, space, loc)


def typed(lw: ProbeLowerer, read: ir.Expr, t: Type, space: str, loc: ast.Loc) -> TV:
    """A value read from kernel memory, with its language type: integers and pointers as
    they are, embedded structs as records, char arrays as strings (read with the string
    helper), other arrays as pointers to their first element (index them)."""
    if isinstance(t, IntT):
        return read, LT("int", t.bits, t.signed)
    if isinstance(t, PtrT):  # a pointer inside a user struct points into user memory too
        return read, pointer(t.target, space)
    if isinstance(t, BTFRef):
        return read, LT("record", 64, False, fmt=space, target=t)
    if isinstance(t, ArrayT) and t.is_str:
        var = lw.temp(str_type(t.n), loc, "field")
        return intrinsics.read_string(var, _untyped(read), space, loc), string(t.n)
    if isinstance(t, ArrayT):
        return _untyped(read), pointer(t.elem, space)
    raise lw.error(loc, f"a {t} cannot be read here")


def _untyped(addr: ir.Expr) -> ir.Expr:
    if isinstance(addr, ir.BinOp) and isinstance(addr.type, PtrT):
        return kmembers.retyped(addr, U64)
    return addr


def element(lw: ProbeLowerer, e: ast.Expr, base: ir.Expr, lt: LT, index: ir.Expr | None
            ) -> TV:
    """base[index] (or *base when index is None) of a typed pointer: the element read at
    base + index * sizeof(element)."""
    loc = e.loc
    target: Any = lt.target
    size = target.size if target is not None else 0
    if not size:
        raise lw.error(e, f"cannot read through a {lt}: the size of what it points to is "
                          "unknown", "Cast it to a typed pointer, e.g. (uint64 *)ptr.")
    addr = lw._as(base, U64)
    if index is not None:
        addr = ir.BinOp(U64, "add", addr, ir.BinOp(U64, "mul", lw._as(index, U64),
                                                   ir.Const(U64, size), loc=loc), loc=loc)
    space = lt.fmt or "kernel"
    if isinstance(target, IntT | PtrT):
        return typed(lw, ir.ProbeRead(target, addr, space, loc=loc), target, space, loc)
    return typed(lw, addr, target, space, loc)


def scaled(lw: ProbeLowerer, lt: LT, offset: ir.Expr, loc: ast.Loc) -> ir.Expr:
    """An integer added to a typed pointer counts elements, as in C: `$p + 1` is the next
    struct."""
    target: Any = lt.target
    size = target.size if target is not None else 0
    if size <= 1:
        return offset
    return ir.BinOp(U64, "mul", lw._as(offset, U64), ir.Const(U64, size), loc=loc)


def type_size(lw: ProbeLowerer, e: ast.Ident) -> int:
    """sizeof(uint32), sizeof(struct task_struct), sizeof(struct sock *)."""
    name = e.name
    if name.endswith("*"):
        return 8
    if name in INT_NAMES:
        return INT_NAMES[name].size
    t = kernel_struct(name, lw.comp.script_types())
    if t is None:
        raise lw.error(e, f"unknown type {name!r}: the kernel's BTF has no such type")
    return t.size


def value_size(lt: LT) -> int:
    """The size of a value of the language type: what bpftrace's sizeof(expr) gives."""
    if lt.kind == "record":
        return int(getattr(lt.target, "size", 0) or 0)
    if lt.kind == "int":
        return lt.bits // 8
    return lt.ir().size
