"""The table of builtin functions of compiled Python: name -> lowering. Modules that define
builtins (`builtins`, `packets`) register into it; `calls` looks names up in it. It imports
no builtin module itself, so the modules that fill it do not import each other."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING

from pybpf.compiler import ir

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer

Builtin = Callable[["Lowerer", ast.Call, list[ir.Expr]], ir.Expr]
BUILTINS: dict[str, Builtin] = {}


def builtin(name: str, nargs: int | tuple[int, int] = 0) -> Callable[[Builtin], Builtin]:
    """Register a lowering as builtin `name`, taking `nargs` arguments (or a (min, max)
    range), checked before it runs."""
    lo, hi = (nargs, nargs) if isinstance(nargs, int) else nargs

    def register(fn: Builtin) -> Builtin:
        def checked(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
            if not lo <= len(args) <= hi:
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                lw.error(node, f"{name}() takes {want} argument{'s' if hi != 1 else ''}, "
                               f"got {len(args)}")
            return fn(lw, node, args)

        BUILTINS[name] = checked
        return checked

    return register


__all__ = ["BUILTINS", "Builtin", "builtin"]
