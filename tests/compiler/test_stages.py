"""Unit tests of the compiler's stages on hand-built IR and instruction lists (no kernel):
fold, analysis, frame, peephole, definite assignment, the closed IR's dispatch table, the
pipeline's error context, and the feature cache."""

from __future__ import annotations

import ast
import inspect

import pytest

from pybpf import asm
from pybpf.asm import R0, R1, R6
from pybpf.compiler import analysis, fold, ir, peephole, pipeline
from pybpf.compiler.codegen import EXPR_GENERATORS, STMT_GENERATORS
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.frame import STACK_LIMIT, Frame, access_width, round8
from pybpf.compiler.irtypes import LIT, S64, U64, ArrayT
from pybpf.compiler.pyfront import assigned
from pybpf.compiler.target import PORTABLE


def _var(name: str, t=U64) -> ir.Var:
    return ir.Var(name, t)


def _const(v: int, t=U64) -> ir.Const:
    return ir.Const(t, v)


def _fn(body: list[ir.Stmt]) -> ir.Function:
    return ir.Function("f", body, [], U64)


# -- the closed IR -------------------------------------------------------------------------
def test_every_ir_node_has_exactly_one_generator() -> None:
    nodes = [c for c in vars(ir).values() if inspect.isclass(c) and c.__module__ == ir.__name__
             and issubclass(c, ir.Expr | ir.Stmt) and c not in (ir.Expr, ir.Stmt)]
    assert len(nodes) > 40
    for node in nodes:
        if node in ir.LOWERING_ONLY:
            assert node not in EXPR_GENERATORS, node
            continue
        table = EXPR_GENERATORS if issubclass(node, ir.Expr) else STMT_GENERATORS
        assert node in table, f"no generator for ir.{node.__name__}"
    # nothing else is generated: no front end adds nodes of its own
    assert set(EXPR_GENERATORS) | set(STMT_GENERATORS) <= set(nodes)


# -- fold ----------------------------------------------------------------------------------
def test_fold_drops_code_after_a_return_and_constant_branches() -> None:
    x = _var("x")
    keep = ir.Assign(x, _const(1))
    dead = ir.Assign(x, _const(2))
    taken = ir.Assign(x, _const(3))
    fn = _fn([ir.If(_const(0, LIT), [dead], [taken]), keep, ir.Return(None), dead])
    fold.run(fn)
    assert fn.body[0] is taken and fn.body[1] is keep
    assert isinstance(fn.body[2], ir.Return) and len(fn.body) == 3


def test_fold_cleans_loop_and_inline_bodies() -> None:
    x = _var("x")
    loop = ir.Loop(_var("i", S64), 0, 3, 1, [ir.Break(), ir.Assign(x, _const(1))])
    inl = ir.Inline(U64, [ir.InlineReturn(None, None, 7), ir.Assign(x, _const(2))], None, 7)
    fn = _fn([loop, ir.ExprStmt(inl)])
    fold.run(fn)
    assert len(loop.body) == 1 and isinstance(loop.body[0], ir.Break)
    assert len(inl.body) == 1


# -- analysis ------------------------------------------------------------------------------
def test_read_before_assigned_is_flow_conservative() -> None:
    a, b, c = _var("a"), _var("b"), _var("c")
    body = [ir.Assign(a, _const(1)),
            ir.If(_const(1, LIT), [ir.Assign(b, _const(2))], []),
            ir.ExprStmt(ir.Load(U64, a)), ir.ExprStmt(ir.Load(U64, b)),
            ir.ExprStmt(ir.Load(U64, c))]
    needs = analysis.read_before_assigned(body)
    assert id(a) not in needs  # assigned at the top level first
    assert id(b) in needs  # assigned on one path only
    assert id(c) in needs  # never assigned


def test_read_before_assigned_follows_an_evaluated_inline_body() -> None:
    p, r = _var("p"), _var("r")
    body = [ir.Assign(p, _const(5)), ir.InlineReturn(ir.Load(U64, p), r, 3)]
    inl = ir.Inline(U64, body, r, 3)
    needs = analysis.read_before_assigned([ir.ExprStmt(inl)])
    assert id(p) not in needs  # the inline's straight-line prefix runs first, in order
    later = ir.Inline(U64, [ir.If(_const(1, LIT), [ir.Assign(p, _const(1))], []),
                            ir.InlineReturn(ir.Load(U64, p), r, 4)], r, 4)
    assert id(p) in analysis.read_before_assigned([ir.ExprStmt(later)])


def test_register_candidates_prefer_loop_variables() -> None:
    hot, cold, agg = _var("hot"), _var("cold"), ir.Var("s", ArrayT(U64, 2))
    loop = ir.Loop(_var("i", S64), 0, 4, 1, [ir.Assign(hot, ir.Load(U64, hot))])
    body = [ir.Assign(cold, _const(1)), ir.Assign(cold, ir.Load(U64, cold)),
            ir.Assign(cold, ir.Load(U64, cold)), loop]
    chosen = analysis.register_candidates(body, [hot, cold, agg], (9,))
    assert chosen == [hot]


def test_tested_inline_with_constant_returns_needs_no_result_slot() -> None:
    r = _var("r")
    inl = ir.Inline(U64, [ir.Assign(r, _const(0)),
                          ir.If(_const(1, LIT), [ir.InlineReturn(_const(0), r, 9)], []),
                          ir.InlineReturn(_const(1), r, 9)], r, 9)
    facts = analysis.facts(_fn([ir.If(ir.Not(LIT, inl), [ir.Return(None)], [])]), (9, 8))
    assert id(inl) in facts.branch_inlines and id(r) in facts.dropped
    assert r not in facts.variables
    read = ir.Inline(U64, [ir.Assign(r, _const(0)), ir.InlineReturn(ir.Load(U64, r), r, 9)],
                     r, 9)
    facts = analysis.facts(_fn([ir.If(read, [ir.Return(None)], [])]), (9, 8))
    assert not facts.branch_inlines and not facts.dropped


def test_while_trips_reads_a_plain_counter_loop() -> None:
    i = _var("i", S64)
    step = ir.Assign(i, ir.BinOp(S64, "add", ir.Load(S64, i), _const(2, S64)))
    loop = ir.Loop(_var(".w", S64), 0, 4096, 1, [step],
                   cond=ir.Compare(LIT, "lt", ir.Load(S64, i), _const(10, S64), True))
    assert analysis.while_trips([ir.Assign(i, _const(0, S64))], loop) == 5
    assert analysis.while_trips([], loop) is None  # the start is not known


# -- frame ---------------------------------------------------------------------------------
def test_frame_slots_are_aligned_and_scratch_is_released() -> None:
    f = Frame()
    assert f.alloc_fixed(3, Loc("x", 1, 1), "v") == -8
    mark = f.mark()
    assert f.alloc_scratch(12, Loc("x", 1, 1)) == -24
    f.release(mark)
    assert f.alloc_scratch(8, Loc("x", 1, 1)) == -16
    assert round8(9) == 16 and access_width(16, -24) == 8 and access_width(3, -24) == 2
    assert access_width(8, -20) == 4 and access_width(8, -24, 2) == 2


def test_frame_refuses_more_than_the_stack_limit() -> None:
    f = Frame()
    f.alloc_fixed(STACK_LIMIT - 8, Loc("x", 1, 1), "big")
    with pytest.raises(CompileError, match="bytes of stack"):
        f.alloc_scratch(16, Loc("x", 2, 1), "a map key")


# -- peephole ------------------------------------------------------------------------------
def _codes(items: list) -> list[str]:
    return [asm.disassemble([i]).strip() if isinstance(i, asm.Instruction) else f"{i.name}:"
            for i in items]


def test_peephole_threads_jumps_and_drops_what_no_jump_reaches() -> None:
    items = [asm.jeq(R6, 5, "a"), asm.ja("b"), asm.label("a"), asm.ja("c"), asm.label("b"),
             asm.mov(R0, 0), asm.exit(), asm.label("c"), asm.mov(R0, 1), asm.exit()]
    out = peephole.run(items)
    assert out[0].target == "c"  # through the goto at a
    assert len([x for x in out if isinstance(x, asm.Instruction)]) == 5  # goto b dropped too
    resolved = asm.resolve(out)
    assert [i.off for i in resolved if i.target] == [2]


def test_peephole_keeps_a_cycle_of_gotos() -> None:
    items = [asm.label("a"), asm.ja("b"), asm.label("b"), asm.ja("a")]
    assert len([x for x in peephole.run(items) if isinstance(x, asm.Instruction)]) >= 1


def test_peephole_reload_and_copy() -> None:
    items = [asm.stx("u64", 10, -8, R6), asm.ldx("u64", R1, 10, -8), asm.mov(R0, R1),
             asm.exit()]
    out = _codes(peephole.run(items))
    assert "r1 = *(u64 *)(r10 -8)" not in out and out[-1] == "exit"


# -- definite assignment (pyfront) ---------------------------------------------------------
def _check(src: str) -> str | None:
    fdef = ast.parse(src).body[0]
    assert isinstance(fdef, ast.FunctionDef)

    def fail(node: ast.AST, message: str, hint: str = "") -> None:
        raise CompileError(message, Loc("t.py", getattr(node, "lineno", 0), 1))

    try:
        assigned.check(fdef, fail, lambda n: getattr(n, "lineno", 0))  # type: ignore[arg-type]
    except CompileError as e:
        return e.message
    return None


def test_definite_assignment() -> None:
    assert _check("def f(a):\n    if a:\n        x = 1\n    else:\n        x = 2\n    return x") \
        is None
    assert "x" in (_check("def f(a):\n    if a:\n        x = 1\n    return x") or "")
    assert _check("def f(a):\n    for i in range(3):\n        x = i\n    return x") is None
    assert "x" in (_check("def f(a):\n    while a:\n        x = 1\n    return x") or "")
    assert _check("def f(a):\n    if a:\n        return 0\n    else:\n        x = 1\n"
                  "    return x") is None


# -- the pipeline --------------------------------------------------------------------------
def test_stages_are_listed_in_order() -> None:
    assert pipeline.STAGES == ("lower", "fold", "accounting", "analysis", "emit",
                               "loop budget", "peephole", "resolve")


def test_internal_error_names_its_stage_and_place() -> None:
    where = Loc("prog.py", 3, 5, "    x = y")

    def broken() -> pipeline.Lowered:
        raise KeyError("boom")

    with pytest.raises(CompileError) as info:
        pipeline.compile(broken, target=PORTABLE, where=where)
    assert "internal compiler error in stage lower (KeyError" in info.value.message
    assert info.value.loc == where
    bad = _fn([ir.ExprStmt(ir.CtxArray(ArrayT(U64, 2), 0))])  # a lowering-only node
    with pytest.raises(CompileError, match="in stage emit"):
        pipeline.compile(lambda: pipeline.Lowered(bad), target=PORTABLE, where=where)


def test_a_small_function_through_every_stage() -> None:
    x = _var("x")
    fn = _fn([ir.Assign(x, _const(6)),
              ir.Return(ir.BinOp(U64, "mul", ir.Load(U64, x), _const(7)))])
    out = pipeline.compile(lambda: pipeline.Lowered(fn), target=PORTABLE)
    text = [asm.disassemble([i]).strip() for i in out.insns]
    assert text[-1] == "exit" and any("*= 7" in t for t in text)
    assert out.objects.counters is None  # nothing to count


# -- the feature cache ---------------------------------------------------------------------
def test_feature_cache_never_keeps_an_inconclusive_answer() -> None:
    from pybpf.sys import featurecache
    from pybpf.sys.featurecache import UNKNOWN

    answers = [UNKNOWN, UNKNOWN, True, False]
    calls: list[int] = []

    @featurecache.probe(unknown=False)
    def probe_it() -> bool:
        calls.append(1)
        return answers[len(calls) - 1]

    assert probe_it() is False and probe_it() is False  # unknown: given as False, asked again
    assert probe_it() is True and probe_it() is True  # conclusive: kept
    assert len(calls) == 3
    assert probe_it.raw() is True
