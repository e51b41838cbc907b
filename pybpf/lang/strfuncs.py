"""Functions over strings, byte buffers and addresses: buf(), strncmp(), strcontains(),
strerror(), pton(), lowered to IR with bpftrace's semantics."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from pybpf.compiler import ir
from pybpf.compiler.irtypes import LIT, U8, U64, PtrT
from pybpf.lang import ast
from pybpf.lang.types import INT64, LT

if TYPE_CHECKING:
    from pybpf.lang.lower import TV, ProbeLowerer

BUF_MAX = 64  # bpftrace's default string size bounds what buf() copies too


def _byte(var: ir.Var, i: int, loc: ast.Loc) -> ir.Expr:
    return ir.MemLoad(U8, ir.AddrOf(PtrT(U8, "stack"), var, 0, loc=loc), i, loc=loc)


def _string_var(lw: ProbeLowerer, node: ast.Expr, what: str) -> tuple[ir.Var, int, str | None]:
    """The storage of a string argument, its size and, for a literal, its text."""
    value, lt = lw.expr(node)
    if lt.kind != "str":
        raise lw.error(node, f"{what} expects a string, not {lt}")
    text = value.text if isinstance(value, ir.Agg) else None
    return lw.storage_var(value, node.loc), lt.size, text


def f_strncmp(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    """0 when the first n characters (up to a NUL) are the same, else 1 (as bpftrace)."""
    a, asize, _ = _string_var(lw, e.args[0], "strncmp()")
    b, bsize, _ = _string_var(lw, e.args[1], "strncmp()")
    n = lw.const_int(e.args[2], "strncmp()'s length")
    if n < 0:
        raise lw.error(e.args[2], "strncmp()'s length must not be negative")
    loc = e.loc
    n = min(n, asize, bsize)
    # equal(i) = a[i] == b[i] and (a[i] == 0 or equal(i + 1)), built from the end
    same: ir.Expr = ir.Const(LIT, 1, loc=loc)
    for i in reversed(range(n)):
        eq = ir.Compare(LIT, "eq", _byte(a, i, loc), _byte(b, i, loc), loc=loc)
        end = ir.Compare(LIT, "eq", _byte(a, i, loc), ir.Const(U8, 0), loc=loc)
        same = eq if i == n - 1 else ir.Logic(LIT, "and", eq, ir.Logic(LIT, "or", end, same,
                                                                        loc=loc), loc=loc)
    return ir.Not(LIT, same, loc=loc), INT64


def f_strcontains(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    """1 when the needle (a string literal) occurs in the haystack before its NUL, else 0."""
    hay, hsize, _ = _string_var(lw, e.args[0], "strcontains()")
    if not isinstance(e.args[1], ast.Str):
        raise lw.error(e.args[1], "strcontains()'s needle must be a string literal")
    needle = e.args[1].value.encode()
    loc = e.loc
    if not needle:
        return ir.Const(LIT, 1, loc=loc), INT64
    found: ir.Expr = ir.Const(LIT, 0, loc=loc)
    # from the last start to the first, so that `found` is or(match(0), or(match(1), ...))
    for start in reversed(range(max(hsize - len(needle), 0))):
        match: ir.Expr | None = None
        for j, c in reversed(list(enumerate(needle))):
            eq = ir.Compare(LIT, "eq", _byte(hay, start + j, loc), ir.Const(U8, c), loc=loc)
            match = eq if match is None else ir.Logic(LIT, "and", eq, match, loc=loc)
        assert match is not None
        # a start past the string's NUL does not count: a NUL there ends the search
        nul = ir.Compare(LIT, "eq", _byte(hay, start, loc), ir.Const(U8, 0), loc=loc)
        found = ir.Logic(LIT, "and", ir.Not(LIT, nul, loc=loc),
                         ir.Logic(LIT, "or", match, found, loc=loc), loc=loc)
    return found, INT64


def f_strerror(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    value, _ = lw.int_operand(e.args[0], "strerror()")
    return lw._as(value, U64), LT("strerror")


def f_cgroup_path(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    """cgroup_path(id): the cgroup's path in every mounted hierarchy, named in user space
    when printed (the id is what the kernel keeps)."""
    value, _ = lw.int_operand(e.args[0], "cgroup_path()")
    return lw._as(value, U64), LT("cgroup_path")


def f_pton(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    """The address of a literal, as the network-order bytes ntop() prints back."""
    a = e.args[0]
    if not isinstance(a, ast.Str):
        raise lw.error(a, "pton() expects a string literal (an IPv4 or IPv6 address)")
    try:
        addr = ipaddress.ip_address(a.value)
    except ValueError:
        raise lw.error(a, f"pton: invalid address {a.value!r}") from None
    lt = LT("inet")
    t = lt.ir()
    var = lw.temp(t, e.loc, "pton")
    init: list[ir.Stmt] = [ir.Zero(var, loc=e.loc),
                           ir.Store(var, 0, U64, ir.Const(U64, 10 if addr.version == 6 else 2),
                                    loc=e.loc)]
    for i, byte in enumerate(addr.packed):
        init.append(ir.Store(var, 8 + i, U8, ir.Const(U8, byte), loc=e.loc))
    return ir.Agg(t, var, init, loc=e.loc), lt


def f_buf(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    """buf(data[, length]): up to 64 bytes of a string, an array or memory at an address."""
    loc = e.loc
    value, lt = lw.expr(e.args[0])
    n: int | None = None
    if len(e.args) == 2 and lt.is_int and not _constant(lw, e.args[1]):
        return _buf_runtime_length(lw, e, value, lt)
    if len(e.args) == 2:
        n = lw.const_int(e.args[1], "buf()'s length")
        if n < 0:
            raise lw.error(e.args[1], "buf()'s length must not be negative")
    if lt.kind == "str":  # a length past the string's end gives zeros (buf("ok", 4): ok\0\0)
        size = min(n if n is not None else lt.size, BUF_MAX)
    elif lt.is_int:
        if n is None:
            raise lw.error(e, "buf() of an address needs a length: buf(ptr, length)")
        size = min(n, BUF_MAX)
    else:
        raise lw.error(e.args[0], f"buf() takes a string, an array or an address, not {lt}")
    out = LT("buf", size=size)
    t = out.ir()
    var = lw.temp(t, loc, "buf")
    init: list[ir.Stmt] = [ir.Zero(var, loc=loc),
                           ir.Store(var, 0, U8, ir.Const(U8, size), loc=loc)]
    if lt.kind == "str":
        src = lw.storage_var(value, loc)
        for i in range(min(size, lt.size)):
            init.append(ir.Store(var, 1 + i, U8, _byte(src, i, loc), loc=loc))
    elif size:
        space = lt.fmt or ("user" if lw.probe.kind in ("uprobe", "uretprobe", "usdt")
                           else "kernel")
        init.append(ir.HelperInto(f"bpf_probe_read_{space}",
                                  [ir.AddrOf(PtrT(U8, "stack"), var, 1, loc=loc),
                                   ir.Const(U64, size), lw._as(value, U64)], loc=loc))
    return ir.Agg(t, var, init, loc=loc), out


def _constant(lw: ProbeLowerer, e: ast.Expr) -> bool:
    return isinstance(e, ast.Int) or (isinstance(e, ast.Param) and
                                      isinstance(lw.param(e)[0], ir.Const))


def _buf_runtime_length(lw: ProbeLowerer, e: ast.Call, value: ir.Expr, lt: LT) -> TV:
    """buf(address, length) with a length known only when the probe runs (undump.bt's
    buf($skb->data, $skb->len)): up to 64 bytes, as bpftrace, the length byte the ones read."""
    loc = e.loc
    length, llt = lw.expr(e.args[1])
    if not llt.is_int:
        raise lw.error(e.args[1], f"buf()'s length must be an integer, not {llt}")
    n = lw.temp(U64, loc, "buflen")
    lw.emit(ir.Assign(n, lw._as(length, U64), loc=loc))
    wanted = ir.Load(U64, n, loc=loc)
    lw.emit(ir.If(ir.Compare(LIT, "gt", wanted, ir.Const(U64, BUF_MAX), False, loc=loc),
                  [ir.Assign(n, ir.Const(U64, BUF_MAX), loc=loc)], [], loc=loc))
    out = LT("buf", size=BUF_MAX)
    var = lw.temp(out.ir(), loc, "buf")
    space = lt.fmt or ("user" if lw.probe.kind in ("uprobe", "uretprobe", "usdt") else "kernel")
    init: list[ir.Stmt] = [
        ir.Zero(var, loc=loc),
        ir.Store(var, 0, U8, ir.Cast(U8, ir.Load(U64, n, loc=loc), loc=loc), loc=loc),
        ir.HelperInto(f"bpf_probe_read_{space}",
                      [ir.AddrOf(PtrT(U8, "stack"), var, 1, loc=loc), ir.Load(U64, n, loc=loc),
                       lw._as(value, U64)], loc=loc)]
    return ir.Agg(out.ir(), var, init, loc=loc), out


FUNCTIONS = {
    "strncmp": (f_strncmp, (3, 3)), "strcontains": (f_strcontains, (2, 2)),
    "strerror": (f_strerror, (1, 1)), "pton": (f_pton, (1, 1)), "buf": (f_buf, (1, 2)),
    "cgroup_path": (f_cgroup_path, (1, 1)),
}
