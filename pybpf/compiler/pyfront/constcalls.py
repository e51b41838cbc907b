"""Builtins of pure constants, computed while compiling: `ord("W")`, `len(b"abc")`,
`len(NAME)` of a module constant, `chr(65)` (inside another of these), `int("ff", 16)`, and
`2 ** 10`. Python computes them (they have no kernel side); the result is an untyped
constant like a literal. Their arguments must be known at compile time: a variable's value is
refused at its position with what to write instead."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from pybpf.compiler import ir
from pybpf.compiler.irtypes import LIT

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer

_NOT_CONSTANT = object()
# results must fit a 64-bit register, signed or unsigned
_LOW, _HIGH = -(1 << 63), (1 << 64) - 1


def constant_value(lw: Lowerer, node: ast.expr) -> Any:
    """The compile-time value of `node` (int, bool, str or bytes), or _NOT_CONSTANT."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in lw.vars:
        return _NOT_CONSTANT
    if isinstance(node, ast.Name | ast.Attribute):
        try:
            value = lw.static_value(node)
        except Exception:  # noqa: BLE001 - an unknown name is reported where it is lowered
            return _NOT_CONSTANT
        return value if isinstance(value, int | str | bytes) else _NOT_CONSTANT
    if isinstance(node, ast.Call) and _is_builtin_call(lw, node):
        args = [constant_value(lw, a) for a in node.args]
        if any(a is _NOT_CONSTANT for a in args):
            return _NOT_CONSTANT
        try:
            return FOLDED[node.func.id](*args)
        except (TypeError, ValueError, OverflowError):
            return _NOT_CONSTANT
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = constant_value(lw, node.operand)
        return -value if isinstance(value, int) else _NOT_CONSTANT
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        a, b = constant_value(lw, node.left), constant_value(lw, node.right)
        if isinstance(a, int) and isinstance(b, int) and 0 <= b <= MAX_EXPONENT:
            return a ** b
    return _NOT_CONSTANT


def _int(value: Any, base: int = 10) -> int:
    if isinstance(value, str | bytes):
        return int(value, base)
    if isinstance(value, int) and base == 10:
        return int(value)
    raise TypeError("int() of that")


# 2 ** 512 is far past 64 bits: larger exponents of other bases are refused unevaluated
MAX_EXPONENT = 64 * 8
FOLDED = {"ord": ord, "len": len, "chr": chr, "int": _int}
HINTS = {
    "ord": "ord() takes a one-character string known when compiling: ord(\"W\").",
    "len": "len() takes a string, bytes or tuple known when compiling: len(b\"abc\").",
    "chr": "chr() takes an integer known when compiling, inside ord() or len().",
    "int": "int(\"ff\", 16) takes a string known when compiling; int(x) converts a value.",
}


def _is_builtin_call(lw: Lowerer, node: ast.Call) -> bool:
    """A call of one of FOLDED's names that is Python's own (not shadowed by a local or a
    module-level definition of the same name), without keywords."""
    if not isinstance(node.func, ast.Name) or node.func.id not in FOLDED or \
            node.func.id in lw.vars or node.keywords:
        return False
    import builtins

    try:
        return lw.static_value(node.func) is getattr(builtins, node.func.id)
    except Exception:  # noqa: BLE001 - an unknown name is not Python's builtin
        return False


def is_constant_call(lw: Lowerer, node: ast.Call) -> bool:
    """A call of ord/len/chr/int that is Python's own and computed when compiling."""
    if not _is_builtin_call(lw, node):
        return False
    assert isinstance(node.func, ast.Name)
    if node.func.id == "int":  # int(x) of a value is a conversion; of a string, a constant
        return len(node.args) == 2 or (len(node.args) == 1 and isinstance(
            constant_value(lw, node.args[0]), str | bytes))
    return True


def lower_constant_call(lw: Lowerer, node: ast.Call) -> ir.Expr:
    name = node.func.id  # type: ignore[attr-defined]
    value = constant_value(lw, node)
    if value is _NOT_CONSTANT:
        lw.error(node, f"{name}() is computed when compiling: its arguments must be "
                       "constants", HINTS[name])
    return _as_constant(lw, value, node)


def lower_power(lw: Lowerer, node: ast.BinOp) -> ir.Expr:
    """`a ** b` of constants (BPF has no power instruction and no loop would be cheap)."""
    a, b = constant_value(lw, node.left), constant_value(lw, node.right)
    if not (isinstance(a, int) and isinstance(b, int)):
        lw.error(node, "** is computed when compiling: both operands must be constants",
                 "For a variable, multiply: x * x, or shift: 1 << n.")
    if b < 0:
        lw.error(node, f"{a} ** {b} is not an integer")
    if b > MAX_EXPONENT and a not in (-1, 0, 1):
        lw.error(node, f"{a} ** {b} does not fit in 64 bits")
    return _as_constant(lw, a ** b, node)


def _as_constant(lw: Lowerer, value: Any, node: ast.AST) -> ir.Expr:
    if isinstance(value, str | bytes):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        return lw.string_const(text, node)
    if not _LOW <= int(value) <= _HIGH:
        lw.error(node, f"the constant {value} does not fit in 64 bits")
    return ir.Const(LIT, int(value), loc=lw.loc(node))


__all__ = ["constant_value", "is_constant_call", "lower_constant_call", "lower_power"]
