"""Definite assignment: a local variable must be assigned on every path before it is read.

Python raises UnboundLocalError at run time on a path that reads a local before assigning
it; a BPF program has no such exception, so the compiler refuses the read instead of giving
the variable a value Python would never give it. The rule is the usual flow one: both
branches of an `if` must assign; a loop's body may not run (except `for` over a constant,
non-empty range, whose first iteration runs up to its first `break`); a branch that ends in
`return`, `break` or `continue` does not reach what follows it. A declaration `x: T` (no
value) assigns zero, in the compiled program and in its Python reference run alike."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import NoReturn

ALL: frozenset[str] = frozenset({"\0all"})  # what an unreachable point "has assigned"


def _meet(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    if a is ALL:
        return b
    if b is ALL:
        return a
    return a & b


class _Flow:
    def __init__(self, local: set[str], on_error: Callable[[ast.AST, str, str], NoReturn],
                 assigned_at: dict[str, ast.AST], line_of: Callable[[ast.AST], int]) -> None:
        self.local = local
        self.line_of = line_of
        self.on_error = on_error
        self.assigned_at = assigned_at
        self.breaks: list[list[frozenset[str]]] = []

    # -- expressions --------------------------------------------------------------------------
    def reads(self, node: ast.AST | None, have: frozenset[str]) -> None:
        if node is None or have is ALL:
            return
        unbound = [sub for sub in ast.walk(node) if isinstance(sub, ast.Name) and
                   isinstance(sub.ctx, ast.Load) and sub.id in self.local and
                   sub.id not in have]
        if not unbound:
            return
        first = min(unbound, key=lambda n: (n.lineno, n.col_offset))
        name = first.id
        line = self.line_of(self.assigned_at[name])
        self.on_error(first, f"variable {name!r} may be read before it is assigned (it is "
                             f"assigned on line {line}): Python would raise "
                             "UnboundLocalError on the paths that skip the assignment",
                      f"Give {name} a value on every path before this line, for example "
                      f"`{name} = 0` before the `if` or loop that assigns it.")

    # -- statements ---------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt], have: frozenset[str]) -> frozenset[str]:
        for s in stmts:
            have = self.stmt(s, have)
        return have

    def stmt(self, s: ast.stmt, have: frozenset[str]) -> frozenset[str]:
        if have is ALL:
            return ALL
        if isinstance(s, ast.Assign):
            self.reads(s.value, have)
            for t in s.targets:
                self.reads_in_target(t, have)
            return have | _names(s.targets)
        if isinstance(s, ast.AnnAssign):  # `x: T` alone declares x as zero
            self.reads(s.value, have)
            self.reads_in_target(s.target, have)
            return have | _names([s.target])
        if isinstance(s, ast.AugAssign):
            self.reads(s.value, have)
            if isinstance(s.target, ast.Name):
                self.reads(ast.Name(s.target.id, ast.Load(), lineno=s.target.lineno,
                                    col_offset=s.target.col_offset,
                                    end_lineno=s.target.end_lineno,
                                    end_col_offset=s.target.end_col_offset), have)
            else:
                self.reads_in_target(s.target, have)
            return have
        if isinstance(s, ast.If):
            self.reads(s.test, have)
            return _meet(self.block(s.body, have), self.block(s.orelse, have))
        if isinstance(s, ast.While):
            self.reads(s.test, have)
            self.loop(s.body, have)
            return have
        if isinstance(s, ast.For):
            self.reads(s.iter, have)
            inside = have | _names([s.target])
            first = self.loop(s.body, inside)
            return first if _runs_once(s.iter) else have
        if isinstance(s, ast.Return | ast.Raise):
            self.reads(getattr(s, "value", None) or getattr(s, "exc", None), have)
            return ALL
        if isinstance(s, ast.Break):
            if self.breaks:
                self.breaks[-1].append(have)
            return ALL
        if isinstance(s, ast.Continue):
            return ALL
        for child in ast.iter_child_nodes(s):  # Expr, Assert, Pass, With ...: reads only
            if isinstance(child, ast.expr):
                self.reads(child, have)
        if isinstance(s, ast.With):
            return self.block(s.body, have)
        return have

    def loop(self, body: list[ast.stmt], have: frozenset[str]) -> frozenset[str]:
        """Check a loop body; what is assigned when its first iteration ends or breaks."""
        self.breaks.append([])
        end = self.block(body, have)
        for b in self.breaks.pop():
            end = _meet(end, b)
        return have if end is ALL else end

    def reads_in_target(self, target: ast.expr, have: frozenset[str]) -> None:
        """Subscripts and attributes as targets read their base and index."""
        if isinstance(target, ast.Subscript | ast.Attribute):
            self.reads(target, have)
        elif isinstance(target, ast.Tuple | ast.List):
            for t in target.elts:
                self.reads_in_target(t, have)


def _names(targets: list[ast.expr]) -> frozenset[str]:
    out: set[str] = set()
    for t in targets:
        if isinstance(t, ast.Name):
            out.add(t.id)
        elif isinstance(t, ast.Tuple | ast.List):
            out |= _names(t.elts)
    return frozenset(out)


def _runs_once(it: ast.expr) -> bool:
    """`range(...)` with constant arguments and at least one iteration."""
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and
            it.func.id == "range" and 1 <= len(it.args) <= 3 and
            all(isinstance(a, ast.Constant) and isinstance(a.value, int) for a in it.args)):
        return False
    values = [a.value for a in it.args]  # type: ignore[attr-defined]
    start, stop, step = (0, values[0], 1) if len(values) == 1 else (
        values[0], values[1], values[2] if len(values) == 3 else 1)
    return step != 0 and len(range(start, stop, step)) > 0


def check(fdef: ast.FunctionDef, on_error: Callable[[ast.AST, str, str], NoReturn],
          line_of: Callable[[ast.AST], int]) -> None:
    """Raise (through on_error) at the first read of a local that may be unassigned;
    `line_of` gives a node's line in its file."""
    assigned_at: dict[str, ast.AST] = {}
    for node in ast.walk(fdef):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For):
            targets = [node.target]
        for name in _names(targets):
            assigned_at.setdefault(name, node)
    params = {a.arg for a in fdef.args.args}
    local = set(assigned_at) - params
    for node in ast.walk(fdef):  # `global x`: not a local
        if isinstance(node, ast.Global | ast.Nonlocal):
            local -= set(node.names)
    _Flow(local, on_error, assigned_at, line_of).block(fdef.body, frozenset(params))
