"""Facts about a function's IR that the code generator needs: its variables, which of them
to keep in registers, and which may be read before they are assigned."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler import ir
from pybpf.compiler.irtypes import IntT


@dataclass
class Facts:
    """What code generation needs to know of a function before it starts."""

    variables: list[ir.Var]  # every variable, in order of first appearance
    in_registers: list[ir.Var]  # the scalars kept in the registers given, most used first
    needs_init: set[int]  # ids of variables some path may read before assigning
    reads_ctx: bool  # some code reads the context (the entry saves its pointer)
    # ids of inlined calls that are only tested and only return constants: each return
    # jumps to the branch it decides, and their results (ids in `dropped`) need no storage
    branch_inlines: set[int] = field(default_factory=set)
    dropped: set[int] = field(default_factory=set)
    # id(statement) -> the aggregate temporaries only it uses (see statement_temporaries)
    statement_temps: dict[int, list[ir.Var]] = field(default_factory=dict)


def facts(fn: ir.Function, regs: tuple[int, ...]) -> Facts:
    tested = branch_inlines(fn.body)
    unused = [s.value for s in walk(fn.body) if isinstance(s, ir.ExprStmt) and
              isinstance(s.value, ir.Inline) and s.value.token and _result_unread(s.value)]
    dropped = {id(inl.result) for inl in tested + unused if inl.result is not None}
    variables = [v for v in collect_vars(fn.body) if id(v) not in dropped]
    return Facts(variables, register_candidates(fn.body, variables, regs),
                 read_before_assigned(fn.body),
                 uses_ctx(fn.body) or fn.ret_mode.startswith("ctx:"),
                 {id(inl) for inl in tested}, dropped, statement_temporaries(fn.body))


def branch_inlines(body: list[ir.Stmt]) -> list[ir.Inline]:
    """Inlined calls used only as conditions (of if, while, ?:, not, and/or) whose returns
    are all constants: `if not wanted(): return 0` then needs neither the result's stack
    slot nor a test of it."""
    out: list[ir.Inline] = []
    for node in walk(body):
        if isinstance(node, ir.If | ir.Cond):
            tested = [node.cond]
        elif isinstance(node, ir.Loop):
            tested = [node.cond] if node.cond is not None else []
        elif isinstance(node, ir.Not):
            tested = [node.operand]
        elif isinstance(node, ir.Logic):
            tested = [node.left, node.right]
        else:
            continue
        out += [e for e in tested if isinstance(e, ir.Inline) and e.token and
                _constant_results(e)]
    return out


def _constant_results(inl: ir.Inline) -> bool:
    return _result_unread(inl, constant=True)


def _result_unread(inl: ir.Inline, constant: bool = False) -> bool:
    """Whether an inline's body only sets its result (to constants, with `constant`) and
    never reads it."""
    result = inl.result
    for node in walk(inl.body):
        if isinstance(node, ir.InlineReturn) and node.token == inl.token:
            if constant and node.value is not None and not isinstance(node.value, ir.Const):
                return False
        elif isinstance(node, ir.Assign) and node.var is result:
            if constant and not isinstance(node.value, ir.Const):
                return False
        elif result is not None and any(v is result for v in vars(node).values()):
            return False  # read in the body: it needs its storage
    return True


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
    Conservative: only straight-line assignments count as definite, at the top level and
    at the top level of an inlined call that a top-level statement always evaluates (its
    body runs first, in order; a return inside it only skips the rest of the body, whose
    variables are its own)."""
    defined: set[int] = set()
    needs: set[int] = set()

    def run(stmts: list[ir.Stmt]) -> None:
        for s in stmts:
            inl = _evaluated_inline(s)
            if inl is not None:
                run(inl.body)
            target = s.var if isinstance(s, ir.Assign) else None
            for node in walk([s], skip=inl):
                for v in _vars_read(node):
                    if v is not target and id(v) not in defined:
                        needs.add(id(v))
                if node is not s and isinstance(node, ir.Assign | ir.Loop | ir.HelperInto |
                                                ir.RingOutput) and id(_target_of(node)) \
                        not in defined:
                    needs.add(id(_target_of(node)))
            if target is not None:
                defined.add(id(target))

    run(body)
    return needs


def _evaluated_inline(s: ir.Stmt) -> ir.Inline | None:
    """The inlined call a statement always evaluates first: `f(...)`, `v = f(...)`,
    `if f(...)` or `if not f(...)`."""
    e = s.value if isinstance(s, ir.ExprStmt | ir.Assign) else \
        s.cond if isinstance(s, ir.If) else None
    if isinstance(e, ir.Not):
        e = e.operand
    return e if isinstance(e, ir.Inline) else None


def _target_of(node: Any) -> Any:
    return getattr(node, "var", None) or getattr(node, "result", None)


def _vars_read(node: Any) -> list[ir.Var]:
    if isinstance(node, ir.Load | ir.AddrOf | ir.VarRef | ir.LoadIndex):
        return [node.var]
    return []


def statement_temporaries(body: list[ir.Stmt]) -> dict[int, list[ir.Var]]:
    """The aggregate temporaries (strings read, comm(), string constants, map values copied
    out, tuples) that one statement holds all uses of, by the innermost such statement's id:
    the code generator gives each a stack slot for that statement only, so that a program's
    string reads share the stack instead of each keeping a slot for the whole program. A
    temporary used by several top-level statements keeps its own slot."""
    temps = {id(v): v for v in collect_vars(body) if v.temp and not v.type.is_scalar}
    if not temps:
        return {}
    out: dict[int, list[ir.Var]] = {}
    memo: dict[int, set[int]] = {}

    def deep(s: ir.Stmt) -> set[int]:
        got = memo.get(id(s))
        if got is None:
            got = {id(v) for v in collect_vars([s]) if id(v) in temps}
            memo[id(s)] = got
        return got

    def place(stmts: list[ir.Stmt], wanted: set[int], owner: ir.Stmt | None) -> None:
        """Every id in `wanted` is used only within `stmts` (inside `owner`)."""
        users: dict[int, list[ir.Stmt]] = {}
        for st in stmts:
            for vid in deep(st) & wanted:
                users.setdefault(vid, []).append(st)
        by_stmt: dict[int, tuple[ir.Stmt, set[int]]] = {}
        for vid, sts in users.items():
            if len(sts) > 1:  # shared by sibling statements: the enclosing one holds it
                if owner is not None:
                    out.setdefault(id(owner), []).append(temps[vid])
                continue
            by_stmt.setdefault(id(sts[0]), (sts[0], set()))[1].add(vid)
        for st, vids in by_stmt.values():
            inner = _nested_lists(st)
            nested = set().union(*(deep(t) for lst in inner for t in lst)) if inner else set()
            # used by the statement's own expressions (outside nested statements): it is
            # the owner; else look inside the nested statement lists
            own = {v for v in vids if v not in nested or _used_outside(st, temps[v], inner)}
            if own:
                out.setdefault(id(st), []).extend(temps[v] for v in own)
            rest = vids - own
            if rest:
                lists = [lst for lst in inner if any(deep(t) & rest for t in lst)]
                for vid in rest:
                    holders = [lst for lst in lists if any(vid in deep(t) for t in lst)]
                    if len(holders) > 1:
                        out.setdefault(id(st), []).append(temps[vid])
                    else:
                        place(holders[0], {vid}, st)

    place(body, set(temps), None)
    return out


def _nested_lists(s: ir.Stmt) -> list[list[ir.Stmt]]:
    """The statement lists inside `s` (bodies, branches, initialisers of its expressions)."""
    out: list[list[ir.Stmt]] = []
    stack: list[Any] = [s]
    while stack:
        node = stack.pop()
        for value in vars(node).values():
            if isinstance(value, list) and value and isinstance(value[0], ir.Stmt):
                out.append(value)
            elif isinstance(value, ir.Expr):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ir.Expr))
    return out


def _used_outside(s: ir.Stmt, var: ir.Var, inner: list[list[ir.Stmt]]) -> bool:
    """Whether `var` is used by `s` outside its nested statement lists."""
    skip = {id(t) for lst in inner for t in lst}
    stack: list[Any] = [s]
    while stack:
        node = stack.pop()
        for value in vars(node).values():
            items = value if isinstance(value, list) else [value]
            for v in items:
                if v is var:
                    return True
                if isinstance(v, ir.Stmt | ir.Expr) and id(v) not in skip:
                    stack.append(v)
    return False


def collect_vars(stmts: list[ir.Stmt]) -> Iterator[ir.Var]:
    seen: set[int] = set()
    for node in walk(stmts):
        for value in vars(node).values():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, ir.Var) and id(v) not in seen:
                    seen.add(id(v))
                    yield v


def walk(nodes: Any, skip: Any = None) -> Iterator[Any]:
    """Every node of the tree, outer ones first (`skip`: a node whose children are left
    out)."""
    stack = deque(nodes) if isinstance(nodes, list) else deque([nodes])
    while stack:
        node = stack.popleft()
        if isinstance(node, ir.Stmt | ir.Expr):
            yield node
            if node is skip:
                continue
            for value in vars(node).values():
                if isinstance(value, list):
                    stack.extend(value)
                elif isinstance(value, ir.Stmt | ir.Expr):
                    stack.append(value)




def uses_ctx(body: list[ir.Stmt]) -> bool:
    """Whether any code reads the context (so the entry must save it)."""
    return any(isinstance(node, ir.READS_CTX) for node in walk(body))


# where the code generator accepts a variable kept in a register; any other node that
# refers to a variable gets it a stack slot
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


def _counter_compare(cond: ir.Expr) -> tuple[ir.Var, str, int] | None:
    """`var OP constant` (either way round, through casts): the loop counter pattern."""
    if not isinstance(cond, ir.Compare):
        return None
    flip = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "ne": "ne", "eq": "eq"}
    left, right, op = cond.left, cond.right, cond.op
    if isinstance(left, ir.Const):
        left, right, op = right, left, flip[op]
    while isinstance(left, ir.Cast):
        left = left.operand
    if not (isinstance(left, ir.Load) and isinstance(right, ir.Const)
            and isinstance(right.value, int)):
        return None
    return left.var, op, right.value


def _step_of(s: ir.Stmt, var: ir.Var) -> int | None:
    """k when `s` is var = var + k (or var - k) with a constant k."""
    value = s.value if isinstance(s, ir.Assign) and s.var is var else None
    while isinstance(value, ir.Cast):
        value = value.operand
    if not (isinstance(value, ir.BinOp) and value.op in ("add", "sub")):
        return None
    left, right = value.left, value.right
    while isinstance(left, ir.Cast):
        left = left.operand
    if isinstance(left, ir.Load) and left.var is var and isinstance(right, ir.Const) \
            and isinstance(right.value, int):
        return right.value if value.op == "add" else -right.value
    return None


def _touches(node: Any, var: ir.Var) -> bool:
    """Whether a node other than a plain read refers to `var`."""
    return not isinstance(node, ir.Load) and any(
        value is var for value in vars(node).values())


def while_trips(before: list[ir.Stmt], loop: ir.Loop) -> int | None:
    """How many times a `while` loop runs at most, when that is plain from the code: a counter
    set to a constant just before the loop, stepped by a constant once per iteration at the
    top level of the body (no `continue`), and compared with a constant, in the whole
    condition or in one of the parts it joins with `and` (`while n > 1 and steps < 1000`:
    the loop ends by the time the counter does). None when not plain."""
    if loop.cond is None:
        return None
    bounds = [t for part in _conjuncts(loop.cond)
              if (t := _counter_trips(before, loop, part)) is not None]
    return min(bounds) if bounds else None


def _conjuncts(cond: ir.Expr) -> list[ir.Expr]:
    if isinstance(cond, ir.Logic) and cond.op == "and":
        return _conjuncts(cond.left) + _conjuncts(cond.right)
    return [cond]


def _counter_trips(before: list[ir.Stmt], loop: ir.Loop, cond: ir.Expr) -> int | None:
    if not (pattern := _counter_compare(cond)):
        return None
    var, op, limit = pattern
    steps = [k for s in loop.body if (k := _step_of(s, var)) is not None]
    if len(steps) != 1 or steps[0] == 0:
        return None
    step = steps[0]
    for node in walk(loop.body):
        if isinstance(node, ir.Continue) or (_touches(node, var) and _step_of(node, var) is None):
            return None
    start = None
    for s in reversed(before):
        if isinstance(s, ir.Assign) and s.var is var:
            value = s.value
            while isinstance(value, ir.Cast):
                value = value.operand
            if isinstance(value, ir.Const) and isinstance(value.value, int):
                start = value.value
            break
        if any(_touches(node, var) for node in walk(s)):
            return None
    t = var.type
    if start is None or not isinstance(t, IntT) or max(abs(start), abs(limit)) >= 2**31 \
            or abs(step) >= 2**31:
        return None
    lo, hi = (-(1 << (t.bits - 1)), (1 << (t.bits - 1)) - 1) if t.signed else (0, t.mask)
    if not (lo <= start <= hi and lo <= limit + step <= hi and lo <= limit - step <= hi):
        return None  # the counter could wrap before it meets the limit
    if not cond.signed and min(start, limit) < 0:  # type: ignore[attr-defined]
        return None
    span = limit - start
    if op in ("le", "ge"):
        span += 1 if step > 0 else -1
    if op == "ne":
        return span // step if span % step == 0 and span // step >= 0 else None
    if (op in ("lt", "le") and step < 0) or (op in ("gt", "ge") and step > 0):
        return None  # counting away from the limit: runs until the hidden bound
    return max(0, -(-span // step))
