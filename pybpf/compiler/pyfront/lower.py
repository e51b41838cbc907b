"""Python syntax -> IR: statements. Expressions are in `exprs`, builtin functions in
`builtins`; this module holds the Lowerer's state (variables, maps, loops) and the statement
forms the restricted language allows."""

from __future__ import annotations

import ast
import difflib
from typing import Any, NoReturn

from pybpf.compiler import ir
from pybpf.compiler.codegen.callbacks import BPF_MAX_LOOPS
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.irtypes import (
    LIT,
    S64,
    ArrayT,
    IntT,
    LitT,
    PtrT,
    StructT,
    Type,
    from_spec,
    is_tuple,
)
from pybpf.compiler.pyfront import assigned
from pybpf.compiler.pyfront.aggregates import AggregateLowering
from pybpf.compiler.pyfront.contexts import Context
from pybpf.compiler.pyfront.exprs import ExprLowering
from pybpf.compiler.pyfront.fields import FieldLowering
from pybpf.compiler.pyfront.source import Source
from pybpf.compiler.pyfront.strings import StringLowering
from pybpf.compiler.target import Target

MAX_WHILE_ITERATIONS = 1 << 12
# bpf_loop's bound; where there is no bpf_loop, the loop budget refuses what the verifier
# cannot follow
MAX_FOR_ITERATIONS = BPF_MAX_LOOPS
_UNSUPPORTED_STMT = {
    ast.Try: "exceptions (try/except) do not exist in BPF programs",
    ast.With: "`with` blocks cannot be compiled",
    ast.FunctionDef: "nested functions cannot be compiled; define a separate @bpf.inline "
                     "function at module level",
    ast.ClassDef: "classes must be declared at module level (bpf.Struct)",
    ast.Global: "`global` cannot be compiled: module-level values are constants inside the "
                "program; keep state in a map",
    ast.Nonlocal: "`nonlocal` cannot be compiled",
    ast.Raise: "exceptions do not exist in BPF programs",
    ast.Import: "imports cannot run inside a BPF program; import at module level",
    ast.ImportFrom: "imports cannot run inside a BPF program; import at module level",
    ast.AsyncFunctionDef: "async functions cannot be compiled",
    ast.Match: "`match` is not supported; use if/elif",
}


class Lowerer(ExprLowering, FieldLowering, AggregateLowering, StringLowering):
    def __init__(self, src: Source, context: Context, target: Target, *,
                 maps: dict[int, ir.MapRef] | None = None, prefix: str = "",
                 depth: int = 0) -> None:
        from pybpf.compiler.pipeline import ProgramObjects

        self.src = src
        self.context = context
        self.target = target
        self.vars: dict[str, ir.Var] = {}
        self.bound: dict[str, Any] = {}  # compile-time names (maps passed to inline functions)
        self.maps = maps if maps is not None else {}
        self.prefix = prefix
        self.depth = depth
        self.loop_depth = 0
        self.ctx_name: str | None = None
        self.ret_type: Type = context.ret
        self.inline_result: ir.Var | None = None
        self.temp_count = 0
        self.inline_token = 0  # set for an inlined body: its returns end that Inline
        self.pending_stmts: list[ir.Stmt] = []
        # ids of variables known to be non-zero on the current path (a header view after
        # `if not view: return`); facts found inside a nested block end with it
        self.nonnull: set[int] = set()
        self.objects = ProgramObjects()  # what the compiler creates (events, stacks)
        # the type of every conditional expression, by place (for the Python reference run)
        self.cond_types: dict[tuple[str, int, int], Type] = {}

    # -- diagnostics --------------------------------------------------------------------------
    def loc(self, node: ast.AST | None) -> Loc:
        return self.src.loc(node)

    def error(self, node: ast.AST | None, message: str, hint: str = "") -> NoReturn:
        raise CompileError(message, self.loc(node), hint)

    def suggest(self, name: str, candidates: list[str]) -> str:
        close = difflib.get_close_matches(name, candidates, n=1)
        return f"Did you mean {close[0]!r}?" if close else ""

    # -- variables ------------------------------------------------------------------------------
    def new_var(self, name: str, t: Type, node: ast.AST | None) -> ir.Var:
        if isinstance(t, LitT):
            t = S64  # an untyped value stored in a variable is a Python int: 64-bit signed
        var = ir.Var(self.prefix + name, t, self.loc(node))
        self.vars[name] = var
        return var

    def temp(self, t: Type, node: ast.AST | None, hint: str = "tmp") -> ir.Var:
        self.temp_count += 1
        return ir.Var(f"{self.prefix}.{hint}{self.temp_count}", t, self.loc(node), temp=True)

    def annotation_type(self, node: ast.expr) -> Type:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            spec: Any = node.value
        else:
            spec = self.static_value(node)
        if spec is int or spec is bool:
            return S64
        try:
            return from_spec(spec)
        except (TypeError, ValueError):
            shown = node.value if isinstance(node, ast.Constant) else ast.unparse(node)
            self.error(node, f"unknown type {shown!r}",
                       "Use u8..u64, s8..s64, 'char[N]' or a bpf.Struct class.")

    # -- the function -----------------------------------------------------------------------
    def lower_function(self, name: str) -> ir.Function:
        fdef = self.src.tree
        args = fdef.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults:
            self.error(fdef, "compiled functions take plain positional parameters only")
        names = [a.arg for a in args.args]
        assigned.check(fdef, self.error, lambda n: self.loc(n).line)
        annotations = [self.annotation_type(a.annotation) if a.annotation else None
                       for a in args.args]
        body: list[ir.Stmt] = []
        if self.context.kind not in ("function",):
            if names:
                self.ctx_name = names[0]
            params = self.context.params(names, annotations, self.loc(fdef))
        else:
            params = self.context.params(names, annotations, self.loc(fdef))
        for pname, ptype, init in params:
            var = self.new_var(pname, ptype, fdef)
            if init is not None:
                body.append(ir.Assign(var, init, loc=self.loc(fdef)))
        if fdef.returns is not None:
            self.ret_type = self.annotation_type(fdef.returns)
        body += self.block(fdef.body)
        return ir.Function(name, body, list(self.maps.values()), self.ret_type,
                           self.context.ret_mode(), self.context.default_return,
                           self.src.text, self.src.file)

    # -- statements ---------------------------------------------------------------------------
    def block(self, nodes: list[ast.stmt]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for node in nodes:
            out += self.stmt(node)
        return out

    def stmt(self, node: ast.stmt) -> list[ir.Stmt]:
        method = getattr(self, "s_" + type(node).__name__, None)
        if method is None:
            reason = _UNSUPPORTED_STMT.get(type(node), f"{type(node).__name__} statements "
                                                       "cannot be compiled")
            self.error(node, reason)
        return method(node)

    def s_Pass(self, node: ast.Pass) -> list[ir.Stmt]:
        return []

    def s_Expr(self, node: ast.Expr) -> list[ir.Stmt]:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return []  # a docstring
        value = self.expr(node.value)
        return self.pending() + [ir.ExprStmt(value, loc=self.loc(node))]

    def s_Assign(self, node: ast.Assign) -> list[ir.Stmt]:
        if len(node.targets) != 1:
            self.error(node, "chained assignment (a = b = c) is not supported")
        return self.assign(node.targets[0], node.value, node)

    def s_AnnAssign(self, node: ast.AnnAssign) -> list[ir.Stmt]:
        if not isinstance(node.target, ast.Name):
            self.error(node, "only local variables can be declared with a type")
        t = self.annotation_type(node.annotation)
        name = node.target.id
        if name in self.vars:
            self.error(node, f"variable {name!r} is already declared")
        var = self.new_var(name, t, node)
        if node.value is None:
            return [ir.Zero(var, loc=self.loc(node))] if not t.is_scalar else []
        return self.store_var(var, self.expr(node.value), node)

    def assign(self, target: ast.expr, value_node: ast.expr, node: ast.stmt) -> list[ir.Stmt]:
        loc = self.loc(node)
        if isinstance(target, ast.Name):
            value = self.materialize(self.expr(value_node), value_node)
            var = self.vars.get(target.id)
            if var is None:
                if target.id == self.ctx_name:
                    self.error(target, "the context cannot be reassigned")
                t = value.type
                if isinstance(value, ir.Agg) and value.var.name.startswith(
                        f"{self.prefix}."):
                    # a fresh aggregate: its temporary becomes the variable (no copy)
                    value.var.name = self.prefix + target.id
                    self.vars[target.id] = value.var
                    return self.pending() + value.init
                if isinstance(t, ArrayT | StructT):
                    var = self.new_var(target.id, t, target)
                elif isinstance(t, IntT | PtrT):
                    var = self.new_var(target.id, t, target)
                else:
                    self.error(value_node, f"a {t} value cannot be stored in a variable")
            return self.pending() + self.store_var(var, value, node)
        if isinstance(target, ast.Subscript):
            return self.assign_subscript(target, value_node, node)
        if isinstance(target, ast.Attribute):
            return self.assign_attribute(target, value_node, node)
        if isinstance(target, ast.Tuple | ast.List):
            return self.assign_tuple(target, value_node, node)
        self.error(target, f"cannot assign to {ast.unparse(target)!r}")
        del loc

    def assign_tuple(self, target: ast.Tuple | ast.List, value_node: ast.expr,
                     node: ast.stmt) -> list[ir.Stmt]:
        """`a, b = b, a % b`: as in Python every value is computed before any target is
        assigned, so the values that are not constants go through temporaries first."""
        if any(isinstance(t, ast.Starred) for t in target.elts):
            self.error(target, "starred assignment (a, *rest = ...) is not supported")
        if not isinstance(value_node, ast.Tuple | ast.List):
            return self.unpack_tuple_value(target, value_node, node)
        if any(isinstance(v, ast.Starred) for v in value_node.elts):
            self.error(value_node, "starred values (*xs) cannot be unpacked")
        if len(target.elts) != len(value_node.elts):
            self.error(node, f"cannot unpack {len(value_node.elts)} values into "
                             f"{len(target.elts)} targets")
        out: list[ir.Stmt] = []
        sources: list[ast.expr] = []
        for elt in value_node.elts:
            value = self.materialize(self.expr(elt), elt)
            out += self.pending()
            if isinstance(value, ir.Const):
                sources.append(elt)  # nothing a target changes can change a constant
                continue
            if not isinstance(value.type, IntT | PtrT | ArrayT | StructT):
                self.error(elt, f"a {value.type} value cannot be unpacked into a variable")
            tmp = self.temp(value.type, elt, "unpack")
            out += self.store_var(tmp, value, elt)
            # the temporary is read back through a name no Python source can spell
            self.vars[tmp.name] = tmp
            sources.append(ast.copy_location(ast.Name(id=tmp.name, ctx=ast.Load()), elt))
        for t, src in zip(target.elts, sources, strict=True):
            out += self.assign(t, src, node)
        return out

    def unpack_tuple_value(self, target: ast.Tuple | ast.List, value_node: ast.expr,
                           node: ast.stmt) -> list[ir.Stmt]:
        """`x, y = pair` where `pair` is a tuple value (a variable that holds one, a map's
        tuple value): the value is kept in a temporary and its members assigned in order."""
        value = self.materialize(self.expr(value_node), value_node)
        if not is_tuple(value.type):
            self.error(value_node, f"only a tuple can be unpacked, not a {value.type} value",
                       "Assign each variable on its own line.")
        assert isinstance(value.type, StructT)
        n = len(value.type.fields)
        if len(target.elts) != n:
            self.error(node, f"cannot unpack {n} values into {len(target.elts)} targets")
        out = self.pending()
        tmp = self.temp(value.type, value_node, "unpack")
        out += self.store_var(tmp, value, value_node)
        self.vars[tmp.name] = tmp  # read back through a name no Python source can spell
        holder = ast.copy_location(ast.Name(id=tmp.name, ctx=ast.Load()), value_node)
        for i, t in enumerate(target.elts):
            item = ast.copy_location(ast.Subscript(value=holder, slice=ast.Constant(i),
                                                   ctx=ast.Load()), value_node)
            out += self.assign(t, item, node)
        return out

    def store_var(self, var: ir.Var, value: ir.Expr, node: ast.AST) -> list[ir.Stmt]:
        loc = self.loc(node)
        self.nonnull.discard(id(var))
        if var.type.is_scalar:
            return self.pending() + [ir.Assign(var, self.convert(value, var.type, node),
                                               loc=loc)]
        self.check_aggregate(value, var.type, node)
        return self.pending() + [ir.Assign(var, value, loc=loc)]

    def check_aggregate(self, value: ir.Expr, t: Type, node: ast.AST) -> None:
        if value.type != t:
            if isinstance(t, ArrayT) and t.is_str and isinstance(value.type, ArrayT) \
                    and value.type.is_str and value.type.n <= t.n:
                return
            self.error(node, f"cannot store a {value.type} value in a {t} variable")

    def assign_attribute(self, target: ast.Attribute, value_node: ast.expr,
                         node: ast.stmt) -> list[ir.Stmt]:
        loc = self.loc(node)
        base = target.value
        # map[key].field = value
        if isinstance(base, ast.Subscript) and self.is_map(base.value):
            mref = self.map_ref(base.value)
            key = self.map_key(mref, base.slice)
            f = self.struct_field(mref.value, target.attr, target)
            value = self.convert(self.expr(value_node), f.type, value_node)
            return self.pending() + [ir.MapStoreField(mref, key, f.offset, f.type, value,
                                                      loc=loc)]
        if isinstance(base, ast.Name) and base.id in self.vars and \
                isinstance(self.vars[base.id].type, PtrT) and \
                self.vars[base.id].type.space == "packet":
            ptr = self.expr(base)
            f = self.struct_field(ptr.type.target, target.attr, target)  # type: ignore
            if not f.type.is_scalar or f.bit_size:
                self.error(target, f"field {target.attr!r} of a header cannot be assigned",
                           "Whole integer fields can be; use net.swap_* for addresses.")
            value = self.convert(self.expr(value_node), f.type, value_node)
            return self.pending() + [ir.PktStore(ptr, f.offset, f.type, value, loc=loc)]
        if isinstance(base, ast.Name) and base.id in self.vars:
            var = self.vars[base.id]
            f = self.struct_field(var.type, target.attr, target)
            value = self.expr(value_node)
            if f.type.is_scalar:
                value = self.convert(value, f.type, value_node)
                return self.pending() + [ir.Store(var, f.offset, f.type, value, loc=loc)]
            value = self.aggregate_as(value, f.type, value_node)
            return self.pending() + self.place(value, var, f.offset, f.type, value_node)
        self.error(target, f"cannot assign to {ast.unparse(target)!r}",
                   "Fields can be set on local struct variables and map values.")

    def assign_subscript(self, target: ast.Subscript, value_node: ast.expr,
                         node: ast.stmt) -> list[ir.Stmt]:
        loc = self.loc(node)
        if self.is_map(target.value):
            mref = self.map_ref(target.value)
            if mref.kind in ("ringbuf", "stack_trace", "perf_event_array"):
                self.error(target, f"a {mref.kind} map cannot be assigned to")
            key = self.map_key(mref, target.slice)
            value = self.map_value(mref, self.expr(value_node), value_node)
            return self.pending() + [ir.MapUpdate(mref, key, value, loc=loc)]
        if isinstance(target.value, ast.Name) and target.value.id in self.vars:
            var = self.vars[target.value.id]
            if not isinstance(var.type, ArrayT):
                self.error(target, f"{target.value.id!r} is not an array")
            elem = var.type.elem
            value = self.convert(self.expr(value_node), elem, value_node)
            index = self.expr(target.slice)
            if isinstance(index, ir.Const):
                if not 0 <= index.value < var.type.n:
                    self.error(target.slice, f"index {index.value} is out of range for "
                                             f"{var.type}")
                return self.pending() + [ir.Store(var, index.value * elem.size, elem, value,
                                                  loc=loc)]
            index = self.convert(index, IntT(64, False), target.slice)
            return self.pending() + [ir.StoreIndex(var, index, elem, value, loc=loc)]
        self.error(target, f"cannot assign to {ast.unparse(target)!r}")

    def s_AugAssign(self, node: ast.AugAssign) -> list[ir.Stmt]:
        op = self.binop_name(node.op, node)
        loc = self.loc(node)
        target = node.target
        # map[key] += v (and map[key].field += v): lookup-or-insert, atomic add
        if op in ("add", "sub"):
            mtarget, field_name = target, None
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Subscript):
                mtarget, field_name = target.value, target.attr
            if isinstance(mtarget, ast.Subscript) and self.is_map(mtarget.value):
                mref = self.map_ref(mtarget.value)
                key = self.map_key(mref, mtarget.slice)
                if field_name is not None:
                    f = self.struct_field(mref.value, field_name, target)
                    vtype, offset = f.type, f.offset
                else:
                    vtype, offset = mref.value, 0
                if not isinstance(vtype, IntT):
                    self.error(target, f"cannot add to a {vtype} map value")
                delta = self.convert(self.expr(node.value), vtype, node.value)
                if op == "sub":
                    delta = ir.UnOp(vtype, "neg", delta, loc=loc)
                return self.pending() + [ir.MapAdd(mref, key, delta, offset, vtype, loc=loc)]
        # everything else: target = target op value
        current = ast.copy_location(ast.BinOp(left=_as_load(target), op=node.op,
                                              right=node.value), node)
        return self.assign(target, current, node)

    def s_Delete(self, node: ast.Delete) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for target in node.targets:
            if isinstance(target, ast.Subscript) and self.is_map(target.value):
                mref = self.map_ref(target.value)
                if mref.kind in ("array", "ringbuf", "stack_trace", "perf_event_array"):
                    self.error(target, f"elements of a {mref.kind} map cannot be deleted",
                               "Set array elements to 0 instead.")
                key = self.map_key(mref, target.slice)
                out += self.pending() + [ir.MapDelete(mref, key, loc=self.loc(node))]
            else:
                self.error(target, "only map elements can be deleted (del m[key])")
        return out

    def s_If(self, node: ast.If) -> list[ir.Stmt]:
        cond = self.condition(node.test)
        pre = self.pending()
        if isinstance(cond, ir.Const):
            # a constant condition (a module-level flag, an option baked into a tool): the
            # other branch is not compiled at all, so it may use what this program lacks
            return pre + self.block(node.body if cond.value else node.orelse)
        saved = set(self.nonnull)
        then = self.block(node.body)
        self.nonnull = set(saved)
        other = self.block(node.orelse)
        self.nonnull = saved
        if not node.orelse and node.body and isinstance(node.body[-1], ast.Return |
                                                       ast.Break | ast.Continue):
            # past `if not v ...: return`, v is not zero
            self.nonnull |= self.nonzero_if_false(node.test)
        return pre + [ir.If(cond, then, other, loc=self.loc(node))]

    def nonzero_if_false(self, test: ast.expr) -> set[int]:
        """Variables that are non-zero whenever `test` is false."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and \
                isinstance(test.operand, ast.Name) and test.operand.id in self.vars:
            return {id(self.vars[test.operand.id])}
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            out: set[int] = set()
            for v in test.values:
                out |= self.nonzero_if_false(v)
            return out
        return set()

    def s_For(self, node: ast.For) -> list[ir.Stmt]:
        if node.orelse:
            self.error(node, "for/else is not supported")
        over_array = self.array_loop(node)
        if over_array is not None:
            held, loop = over_array
            return held + self.s_For(loop)
        if not isinstance(node.target, ast.Name):
            self.error(node.target, "the loop variable must be a plain name")
        it = node.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id == "range" and not it.keywords and 1 <= len(it.args) <= 3):
            self.error(it, "only `for i in range(N)` loops with constant bounds can be "
                           "compiled", "BPF programs must finish: loop over a constant range.")
        bounds = []
        for a in it.args:
            v = self.expr(a)
            if not isinstance(v, ir.Const):
                self.error(a, "range() bounds must be constants known at compile time",
                           "Use a module-level constant, or `while` with a bound.")
            bounds.append(v.value)
        start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (
            bounds[0], bounds[1], bounds[2] if len(bounds) == 3 else 1)
        if step == 0:
            self.error(it, "range() step must not be zero")
        name = node.target.id
        var = self.vars.get(name) or self.new_var(name, S64, node.target)
        if not isinstance(var.type, IntT):
            self.error(node.target, f"loop variable {name!r} is not an integer")
        trips = max(0, -(-(stop - start) // step)) if step > 0 else max(0, -(-(start - stop) //
                                                                              -step))
        if trips > MAX_FOR_ITERATIONS:
            self.error(it, f"this loop runs {trips} times; at most {MAX_FOR_ITERATIONS} "
                           "are allowed (the bound of bpf_loop, which runs loops too long "
                           "for the verifier to follow)",
                       "Loop over fewer items, or keep per-item work in a map updated by "
                       "many events.")
        counter = self.temp(S64, node, "i")
        self.loop_depth += 1
        saved, self.nonnull = self.nonnull, set()  # a later iteration may have changed them
        body = self.block(node.body)
        self.nonnull = saved
        self.loop_depth -= 1
        body = [ir.Assign(var, self.convert(ir.Load(S64, counter), var.type, node),
                          loc=self.loc(node))] + body
        return [ir.Loop(counter, start, stop, step, body, loc=self.loc(node))]

    def array_loop(self, node: ast.For) -> tuple[list[ir.Stmt], ast.For] | None:
        """`for v in xs` and `for i, v in enumerate(xs[, start])` over a local fixed array, as
        the counted loop `for k in range(len(xs))` whose body first sets i and v (k is a
        hidden name); None for any other loop. A fixed array that is a field (`m[k].vals`,
        `ev.vals`, `ctx.args`) is first copied into a hidden local, as Python evaluates the
        iterable once: (the copy's statements, the loop)."""
        it, target = node.iter, node.target
        index_target: ast.expr | None = None
        start: ast.expr = ast.Constant(0)
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and \
                it.func.id == "enumerate" and it.func.id not in self.vars and \
                not it.keywords and 1 <= len(it.args) <= 2:
            if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                self.error(target, "enumerate() gives pairs: write `for i, v in "
                                   "enumerate(xs)`")
            index_target, target = target.elts
            if len(it.args) == 2:
                start = it.args[1]
            it = it.args[0]
        array = self.vars.get(it.id) if isinstance(it, ast.Name) else None
        held: list[ir.Stmt] = []
        if array is None and isinstance(it, ast.Attribute | ast.Subscript) and \
                not self.is_map(it.value if isinstance(it, ast.Subscript) else it):
            self.temp_count += 1
            copy = ast.copy_location(ast.Name(id=f".a{self.temp_count}", ctx=ast.Store()), it)
            held = self.assign(copy, it, node)
            array = self.vars.get(copy.id)
            it = ast.copy_location(ast.Name(id=copy.id, ctx=ast.Load()), it)
            if array is not None and not isinstance(array.type, ArrayT):
                self.error(node.iter, f"a {array.type} value cannot be looped over",
                           "Loop over a fixed array (a field such as u32[8]) or range(N).")
        if array is None or not isinstance(array.type, ArrayT):
            if index_target is not None:
                self.error(it, "enumerate() loops over a local fixed array here",
                           "Declare one (xs: \"u32[8]\") or loop over range(N).")
            return None
        self.temp_count += 1
        hidden = f".k{self.temp_count}"  # no Python source can name it
        self.new_var(hidden, S64, node)

        def at(n: ast.AST) -> ast.AST:
            return ast.fix_missing_locations(ast.copy_location(n, node))

        k = ast.Name(id=hidden, ctx=ast.Load())
        prefix: list[ast.stmt] = []
        if index_target is not None:
            prefix.append(at(ast.Assign(targets=[index_target],
                                        value=ast.BinOp(left=k, op=ast.Add(), right=start))))
        prefix.append(at(ast.Assign(targets=[target],
                                    value=ast.Subscript(value=it, slice=k, ctx=ast.Load()))))
        loop = ast.For(target=ast.Name(id=hidden, ctx=ast.Store()),
                       iter=ast.Call(func=ast.Name(id="range", ctx=ast.Load()),
                                     args=[ast.Constant(array.type.n)], keywords=[]),
                       body=[*prefix, *node.body], orelse=[])
        return held, at(loop)  # type: ignore[return-value]

    def s_While(self, node: ast.While) -> list[ir.Stmt]:
        if node.orelse:
            self.error(node, "while/else is not supported")
        cond = self.condition(node.test)
        if self.pending_stmts:
            self.error(node.test, "a while condition cannot build strings or structs")
        counter = self.temp(S64, node, "w")
        self.loop_depth += 1
        saved, self.nonnull = self.nonnull, set()  # a later iteration may have changed them
        body = self.block(node.body)
        self.nonnull = saved
        self.loop_depth -= 1
        return [ir.Loop(counter, 0, MAX_WHILE_ITERATIONS, 1, body, cond=cond,
                        loc=self.loc(node))]

    def s_Break(self, node: ast.Break) -> list[ir.Stmt]:
        if not self.loop_depth:
            self.error(node, "`break` outside a loop")
        return [ir.Break(loc=self.loc(node))]

    def s_Continue(self, node: ast.Continue) -> list[ir.Stmt]:
        if not self.loop_depth:
            self.error(node, "`continue` outside a loop")
        return [ir.Continue(loc=self.loc(node))]

    def s_Return(self, node: ast.Return) -> list[ir.Stmt]:
        loc = self.loc(node)
        value = None
        if node.value is not None:
            value = self.expr(node.value)
            if not isinstance(value.type, IntT | PtrT):
                self.error(node.value, f"a program returns an integer, not {value.type}")
            value = self.convert(value, self.ret_type, node.value) \
                if isinstance(self.ret_type, IntT) and not isinstance(self.ret_type, LitT) \
                else value
        if self.depth:
            return self.pending() + [ir.InlineReturn(value, self.inline_result,
                                                     self.inline_token, loc=loc)]
        return self.pending() + [ir.Return(value, loc=loc)]

    def s_Assert(self, node: ast.Assert) -> list[ir.Stmt]:
        self.error(node, "assert cannot be compiled", "Use `if not cond: return ...`.")


def _as_load(target: ast.expr) -> ast.expr:
    """A copy of an assignment target usable as a value."""
    node = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(ast.fix_missing_locations(ast.copy_location(node, target)),
                             target)


__all__ = ["LIT", "Lowerer", "MAX_WHILE_ITERATIONS"]
