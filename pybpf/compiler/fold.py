"""Simple IR optimisations after lowering: drop statements that can never run (after a
return, break or continue in the same block) and branches on constant conditions. Constant
expressions are already folded by the front end as it builds them."""

from __future__ import annotations

from pybpf.compiler import ir

_ENDS_BLOCK = (ir.Return, ir.Break, ir.Continue, ir.InlineReturn)


def run(fn: ir.Function) -> None:
    fn.body = block(fn.body)


def block(stmts: list[ir.Stmt]) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in stmts:
        s = stmt(s)
        if isinstance(s, list):
            out += s
        else:
            out.append(s)
        if out and isinstance(out[-1], _ENDS_BLOCK):
            break
    return out


def stmt(s: ir.Stmt) -> ir.Stmt | list[ir.Stmt]:
    if isinstance(s, ir.If):
        if isinstance(s.cond, ir.Const):
            return block(s.then if s.cond.value else s.other)
        s.then, s.other = block(s.then), block(s.other)
    elif isinstance(s, ir.Loop):
        s.body = block(s.body)
    for value in vars(s).values():
        if isinstance(value, ir.Inline):
            value.body = block(value.body)
    return s
