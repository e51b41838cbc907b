"""Calls between compiled functions, compiled by inlining: the callee's body is lowered in
the caller's program with its own variables; maps may be passed as arguments."""

from __future__ import annotations

import ast
import itertools
from typing import TYPE_CHECKING, Any

from pybpf.compiler import ir
from pybpf.compiler.irtypes import S64, IntT, LitT
from pybpf.compiler.pyfront import assigned
from pybpf.compiler.pyfront.aggregates import TupleArg
from pybpf.compiler.pyfront.source import source_of

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer

MAX_INLINE_DEPTH = 8
_TOKENS = itertools.count(1)


def inline_call(lw: Lowerer, node: ast.Call, target: Any) -> ir.Expr:
    from pybpf.compiler.pyfront.lower import Lowerer

    pyfunc = target.__bpf_inline__
    chain = getattr(lw, "inline_chain", ())
    if pyfunc in chain:
        lw.error(node, f"recursive call of {pyfunc.__name__}() cannot be compiled",
                 "BPF has no recursion: rewrite it as a bounded loop.")
    if len(chain) >= MAX_INLINE_DEPTH:
        lw.error(node, f"calls nest deeper than {MAX_INLINE_DEPTH} functions")
    src = source_of(pyfunc)
    # the callee sees the caller's context (ctx fields, packet views, stacks of this program)
    sub = Lowerer(src, lw.context, lw.target, maps=lw.maps,
                  prefix=f"{pyfunc.__name__}{lw.temp_count + 1}.", depth=lw.depth + 1)
    lw.temp_count += 1
    sub.inline_chain = (*chain, pyfunc)  # type: ignore[attr-defined]
    sub.inline_token = next(_TOKENS)
    sub.objects, sub.cond_types = lw.objects, lw.cond_types
    sub.temp_count = lw.temp_count * 1000
    params = src.tree.args.args
    if len(node.args) != len(params) or node.keywords:
        lw.error(node, f"{pyfunc.__name__}() takes {len(params)} positional arguments, got "
                       f"{len(node.args)}")
    body: list[ir.Stmt] = []
    for p, arg in zip(params, node.args, strict=True):
        if lw.is_map(arg):
            sub.bound[p.arg] = lw.static_value(arg)
            continue
        if isinstance(arg, ast.Tuple):  # a tuple (for map keys): its items, evaluated now
            items: list[ir.Expr] = []
            for elt in arg.elts:
                value = lw.materialize(lw.expr(elt), elt)
                body += lw.pending()
                var = sub.temp(value.type if not isinstance(value.type, LitT) else S64, elt,
                               "item")
                body.append(ir.Assign(var, value, loc=lw.loc(elt)))
                items.append(ir.Load(var.type, var, loc=lw.loc(elt)) if var.type.is_scalar
                             else ir.VarRef(var.type, var, loc=lw.loc(elt)))
            sub.bound[p.arg] = TupleArg(items)
            continue
        value = lw.expr(arg)
        body += lw.pending()
        if isinstance(value, ir.CtxPtr):  # the caller's ctx: the callee's parameter is ctx
            sub.ctx_name = p.arg
            continue
        t = sub.annotation_type(p.annotation) if _typed(sub, p.annotation) else value.type
        var = sub.new_var(p.arg, t, p)
        body += sub.store_var(var, value, arg)
    ret_t = sub.annotation_type(src.tree.returns) if src.tree.returns is not None else S64
    if isinstance(ret_t, LitT) or not isinstance(ret_t, IntT):
        ret_t = S64
    sub.ret_type = ret_t
    result = sub.temp(ret_t, node, "ret")
    sub.inline_result = result
    body.append(ir.Assign(result, ir.Const(ret_t, 0), loc=lw.loc(node)))
    assigned.check(src.tree, sub.error, lambda n: sub.loc(n).line)
    body += sub.block(src.tree.body)
    lw.temp_count = max(lw.temp_count, sub.temp_count)
    return ir.Inline(ret_t, body, result, sub.inline_token, loc=lw.loc(node))


def _typed(sub: Lowerer, annotation: ast.expr | None) -> bool:
    """An annotation that fixes the parameter's type (not absent, not typing.Any)."""
    if annotation is None:
        return False
    try:
        return sub.static_value(annotation) is not Any
    except Exception:  # noqa: BLE001 - a string spec such as "char[16]"
        return True
