"""Python syntax -> IR: comparing strings in the kernel (a mixin of the Lowerer).

`comm() == "nginx"`, `ctx.comm != name`, `str(ptr, 16).startswith("/tmp")`: a char[N]
value compares as the C string it holds (up to its first NUL), byte by byte, with no
helper call. A literal side is known at compile time, so only its bytes (and the NUL after
them) are compared; two buffers compare until the first NUL of either."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING

from pybpf.compiler import ir
from pybpf.compiler.errors import Loc
from pybpf.compiler.irtypes import LIT, S64, U8, ArrayT, PtrT

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer

ByteAt = Callable[[int], ir.Expr]


def is_string(e: ir.Expr) -> bool:
    return isinstance(e.type, ArrayT) and e.type.is_str


def literal_bytes(node: ast.expr, lw: Lowerer) -> bytes | None:
    """The bytes of a string known at compile time (a literal or a module-level constant)."""
    if isinstance(node, ast.Constant):
        value = node.value
    elif isinstance(node, ast.Name) and node.id not in lw.vars:
        try:
            value = lw.static_value(node)
        except Exception:  # noqa: BLE001 - not a compile-time name
            return None
    else:
        return None
    if isinstance(value, str):
        return value.encode()
    return value if isinstance(value, bytes) else None


class StringLowering:
    def string_operand(self: Lowerer, e: ir.Expr, node: ast.AST) -> tuple[list[ir.Stmt],
                                                                             ByteAt, int]:
        """How to read byte i of a string value: (statements that build it, byte(i), N)."""
        loc = self.loc(node)
        t = e.type
        assert isinstance(t, ArrayT)
        if isinstance(e, ir.CtxArray):  # a tracepoint's char[N] field: read in place
            offset = e.offset
            return [], lambda i: ir.CtxLoad(U8, offset + i, 1, loc=loc), t.n
        if isinstance(e, ir.VarRef | ir.Agg):
            var = e.var
            init = list(e.init) if isinstance(e, ir.Agg) else []
            return init, lambda i: ir.MemLoad(
                U8, ir.AddrOf(PtrT(U8, "stack"), var, 0, loc=loc), i, loc=loc), t.n
        self.error(node, f"a {t} value cannot be compared here",
                   "Store it in a variable first (s = ...), then compare s.")

    def string_compare(self: Lowerer, op: str, a: ir.Expr, b: ir.Expr, lit_a: bytes | None,
                       lit_b: bytes | None, node: ast.AST) -> ir.Expr:
        """`a == b` / `a != b` where at least one side is a string (char[N] or a literal)."""
        if op not in ("eq", "ne"):
            self.error(node, "strings compare with == and != only",
                       "Use s.startswith(\"prefix\") for prefixes; order strings in user "
                       "space.")
        loc = self.loc(node)
        if lit_a is not None and lit_b is not None:
            return ir.Const(LIT, int((lit_a == lit_b) == (op == "eq")), loc=loc)
        if lit_a is not None:
            a, b, lit_b = b, a, lit_a
        if not is_string(a) or (lit_b is None and not is_string(b)):
            self.error(node, f"cannot compare {a.type} with {b.type if lit_b is None else 'a string'}",
                       "Compare strings with strings (comm() == \"nginx\") and integers "
                       "with integers.")
        init, byte_a, n = self.string_operand(a, node)
        if lit_b is not None:
            cond = _literal_equal(byte_a, n, lit_b, prefix=False, loc=loc)
        else:
            init_b, byte_b, m = self.string_operand(b, node)
            init += init_b
            cond = _buffers_equal(byte_a, n, byte_b, m, loc)
        if op == "ne":
            cond = ir.Not(LIT, cond, loc=loc)
        return self.with_init(init, cond, node)

    def string_startswith(self: Lowerer, node: ast.Call) -> ir.Expr:
        """`s.startswith("prefix")` on a char[N] value, the prefix known at compile time."""
        func = node.func
        assert isinstance(func, ast.Attribute)
        if len(node.args) != 1 or node.keywords:
            self.error(node, "startswith() takes one prefix")
        prefix = literal_bytes(node.args[0], self)
        if prefix is None:
            self.error(node.args[0], "startswith() needs a prefix known at compile time",
                       "Write the prefix as a string literal or a module-level constant.")
        s = self.expr(func.value)
        if not is_string(s):
            self.error(func.value, f"startswith() is a method of strings, not of {s.type}")
        init, byte_at, n = self.string_operand(s, node)
        cond = _literal_equal(byte_at, n, prefix, prefix=True, loc=self.loc(node))
        return self.with_init(init, cond, node)

    def with_init(self: Lowerer, init: list[ir.Stmt], cond: ir.Expr,
                  node: ast.AST) -> ir.Expr:
        """`cond` evaluated after the statements that build its operands."""
        if not init:
            return cond
        loc = self.loc(node)
        result = self.temp(S64, node, "streq")
        return ir.Inline(S64, [*init, ir.Assign(result, cond, loc=loc)], result, loc=loc)


def _all(checks: list[ir.Expr], loc: Loc) -> ir.Expr:
    if not checks:
        return ir.Const(LIT, 1, loc=loc)
    cond = checks[0]
    for c in checks[1:]:
        cond = ir.Logic(LIT, "and", cond, c, loc=loc)
    return cond


def _literal_equal(byte_at: ByteAt, n: int, text: bytes, prefix: bool,
                   loc: Loc) -> ir.Expr:
    """The buffer holds `text` (then a NUL, unless `prefix` or the buffer is full)."""
    text = text.split(b"\0", 1)[0]  # C sees the string up to its first NUL
    if len(text) > n:
        return ir.Const(LIT, 0, loc=loc)
    data = text if prefix or len(text) == n else text + b"\0"
    return _all([ir.Compare(LIT, "eq", byte_at(i), ir.Const(U8, c), loc=loc)
                 for i, c in enumerate(data)], loc)


def _buffers_equal(byte_a: ByteAt, n: int, byte_b: ByteAt, m: int, loc: Loc) -> ir.Expr:
    """Equal up to the first NUL: (a0 == b0) and (a0 == 0 or ((a1 == b1) and ...))."""
    common = min(n, m)
    if n == m:
        tail: ir.Expr = ir.Const(LIT, 1, loc=loc)
    else:  # the longer buffer must end where the shorter one is full
        longer = byte_a if n > m else byte_b
        tail = ir.Compare(LIT, "eq", longer(common), ir.Const(U8, 0), loc=loc)
    cond = tail
    for i in reversed(range(common)):
        same = ir.Compare(LIT, "eq", byte_a(i), byte_b(i), loc=loc)
        ends = ir.Compare(LIT, "eq", byte_a(i), ir.Const(U8, 0), loc=loc)
        if isinstance(cond, ir.Const):  # the last byte of equal-sized buffers
            cond = same
        else:
            cond = ir.Logic(LIT, "and", same, ir.Logic(LIT, "or", ends, cond, loc=loc), loc=loc)
    return cond
