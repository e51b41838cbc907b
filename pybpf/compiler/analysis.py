"""Facts about a function's IR that the code generator needs: its variables, which of them
to keep in registers, and which may be read before they are assigned."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pybpf.compiler import ir

VAR_REGS = (9, 8)  # callee-saved registers given to the most used scalar variables


def register_candidates(body: list[ir.Stmt], variables: list[ir.Var],
                         regs: tuple[int, ...]) -> list[ir.Var]:
    """The scalar variables to keep in registers: the most used, loops weighing more."""
    weight: dict[int, float] = {}

    def visit(stmts: list[ir.Stmt], w: float) -> None:
        for s in stmts:
            for node in walk([s]):
                if isinstance(node, ir.Loop) and node is not s:
                    continue
                if isinstance(node, ir.Load | ir.Assign):
                    v = node.var
                    weight[id(v)] = weight.get(id(v), 0) + w
            if isinstance(s, ir.Loop):
                weight[id(s.var)] = weight.get(id(s.var), 0) + 8 * w
                visit(s.body, w * 8)
            elif isinstance(s, ir.If):
                visit(s.then, w)
                visit(s.other, w)

    visit(body, 1.0)
    pinned = _stack_bound(body)
    scalars = [v for v in variables if v.type.is_scalar and weight.get(id(v), 0) >= 3
               and id(v) not in pinned]
    scalars.sort(key=lambda v: -weight[id(v)])
    return scalars[:len(regs)]


def read_before_assigned(body: list[ir.Stmt]) -> set[int]:
    """Variables that may be read before an assignment: only those need a zero at entry.
    Conservative: only top-level straight-line assignments count as definite."""
    defined: set[int] = set()
    needs: set[int] = set()
    for s in body:
        target = s.var if isinstance(s, ir.Assign) else None
        for node in walk([s]):
            for v in _vars_read(node):
                if v is not target and id(v) not in defined:
                    needs.add(id(v))
            if node is not s and isinstance(node, ir.Assign | ir.Loop | ir.HelperInto |
                                            ir.RingOutput) and id(_target_of(node)) \
                    not in defined:
                needs.add(id(_target_of(node)))
        if target is not None:
            defined.add(id(target))
    return needs


def _target_of(node: Any) -> Any:
    return getattr(node, "var", None) or getattr(node, "result", None)


def _vars_read(node: Any) -> list[ir.Var]:
    if isinstance(node, ir.Load | ir.AddrOf | ir.VarRef | ir.LoadIndex):
        return [node.var]
    return []


def collect_vars(stmts: list[ir.Stmt]) -> Iterator[ir.Var]:
    seen: set[int] = set()
    for node in walk(stmts):
        for value in vars(node).values():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, ir.Var) and id(v) not in seen:
                    seen.add(id(v))
                    yield v


def walk(nodes: Any) -> Iterator[Any]:
    stack = list(nodes) if isinstance(nodes, list) else [nodes]
    while stack:
        node = stack.pop(0)
        if isinstance(node, ir.Stmt | ir.Expr):
            yield node
            for value in vars(node).values():
                if isinstance(value, list):
                    stack.extend(value)
                elif isinstance(value, ir.Stmt | ir.Expr):
                    stack.append(value)




def uses_ctx(body: list[ir.Stmt]) -> bool:
    """Whether any code reads the context (so the entry must save it). Node classes of other
    front ends say so with a class attribute `needs_ctx = True`."""
    return any(isinstance(node, ir.CtxLoad | ir.CtxPtr | ir.CtxCopy | ir.CtxDataLoc) or
               getattr(node, "needs_ctx", False) for node in walk(body))


# where the code generator accepts a variable kept in a register; any other node that
# refers to a variable (including node classes of other front ends) gets it a stack slot
_REGISTER_AWARE = {
    (ir.Load, "var"), (ir.Assign, "var"), (ir.Loop, "var"), (ir.HelperInto, "result"),
    (ir.RingOutput, "result"), (ir.InlineReturn, "result"), (ir.Inline, "result"),
}


def _stack_bound(body: list[ir.Stmt]) -> set[int]:
    """ids of variables some node refers to in a way that needs their stack slot."""
    out: set[int] = set()
    for node in walk(body):
        for name, value in vars(node).items():
            if isinstance(value, ir.Var) and (type(node), name) not in _REGISTER_AWARE:
                out.add(id(value))
    return out
