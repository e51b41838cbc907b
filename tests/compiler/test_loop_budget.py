"""Loops the verifier cannot follow are refused by the compiler, with the loop's position,
before the kernel sees them; loops it can follow still compile. The verifier checks bounded
loops iteration by iteration and keeps at most 8192 undecided jumps pending: the compiler's
estimate (loopcost.LOOP_BRANCH_BUDGET) is checked here against the kernel on both sides of
that line, for a kernel without bpf_loop (NO_BPF_LOOP). With bpf_loop (the running
kernel) the loops past the line run as callbacks instead (tests/compiler/test_bpf_loop.py)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.compiler import analysis, ir
from pybpf.compiler.errors import CompileError
from pybpf.compiler.irtypes import S64, U8
from pybpf.compiler.target import kernel_target
from tests.util import oneliner_outcome, requires_root

pytestmark = requires_root

# the budget's line is where a kernel without bpf_loop refuses loops
NO_BPF_LOOP = dataclasses.replace(kernel_target(), bpf_loop=False)

NESTED = ("BEGIN {{ $i = 0; while ($i < {outer}) {{ $j = 0; while ($j < {inner}) {{ "
          "{body} $j++; }} $i++; }} }}")


def _oneliner(src: str) -> str:
    """"loaded", or the CompileError's text; a verifier rejection fails the test."""
    res = oneliner_outcome(src, NO_BPF_LOOP)
    assert res == "loaded" or res.startswith("stdin:1:"), res
    return res


@pytest.mark.parametrize(("outer", "inner", "fits"), [
    (100, 80, True), (200, 40, True), (10, 800, True), (100, 100, False), (91, 91, False)])
def test_nested_while_either_loads_or_is_refused_at_the_loop(outer: int, inner: int,
                                                              fits: bool) -> None:
    """8,000 map updates in nested loops load; 10,000 (8193 pending jumps in the kernel)
    are refused by the compiler, pointing at the outer loop."""
    res = _oneliner(NESTED.format(outer=outer, inner=inner, body="@x[$j] = count();"))
    if fits:
        assert res == "loaded", res
    else:
        assert res.startswith("stdin:1:17: error: this while loop") and \
            "too much for the verifier" in res, res


def test_loop_budget_counts_loops_one_after_another() -> None:
    """Pending jumps add up over loops that follow each other: eight loops of 1,000 map
    updates load, nine (8193 pending jumps in the kernel) are refused at one of the loops."""
    def program(n: int) -> str:
        return "BEGIN { " + " ".join(f"$i{k} = 0; while ($i{k} < 1000) {{ @x{k}[$i{k}] = "
                                     f"count(); $i{k}++; }}" for k in range(n)) + " }"

    assert _oneliner(program(8)) == "loaded"
    res = _oneliner(program(9))
    assert "too much for the verifier" in res, res
    col = int(res.split(":")[2])
    assert program(9)[col - 1:].startswith("while"), res


@settings(max_examples=30, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(outer=st.integers(1, 150), inner=st.integers(1, 150),
       body=st.sampled_from(["@x[$j] = count();", "@s = sum($j);",
                             "if ($j % 3 == 0) { @x[$j] = count(); } else { @y = $j; }",
                             "$k = $j * 2;"]))
def test_nested_loops_accepted_means_loaded(outer: int, inner: int, body: str) -> None:
    res = _oneliner(NESTED.format(outer=outer, inner=inner, body=body))
    assert res == "loaded" or "too much for the verifier" in res, res


def _python_function(tmp_path, outer: int, inner: int):
    path = tmp_path / f"loops_{outer}_{inner}.py"
    src = ("from pybpf import bpf, maps, u32, u64\n"
           "counts = maps.Hash(key=u32, value=u64, max_entries=1024)\n\n"
           "@bpf.function\n"
           "def f(a: u64) -> u64:\n"
           f"    for i in range({outer}):\n"
           f"        for j in range({inner}):\n"
           "            counts[j] += 1\n"
           "    return 0\n")
    path.write_text(src)
    ns: dict = {"__name__": path.stem}
    exec(compile(src, str(path), "exec"), ns)
    return ns


def test_python_nested_for_loops(tmp_path) -> None:
    """The same line for the Python front end: 100 x 80 loads and runs 8,000 updates,
    100 x 100 is refused at the outer `for` without bpf_loop, and runs its 10,000 with it."""
    from pybpf.compiler.api import compile_function

    ns = _python_function(tmp_path, 100, 80)
    try:
        assert ns["f"].run(0) == 0
        assert sum(ns["counts"].values()) == 8000
    finally:
        ns["f"].close()
        ns["counts"].close()
    ns = _python_function(tmp_path, 100, 100)
    try:
        with pytest.raises(CompileError) as info:
            compile_function(ns["f"].pyfunc, ns["f"].context(), NO_BPF_LOOP)
        assert info.value.loc.line == 6 and info.value.loc.col == 5, info.value.render()
        assert "too much for the verifier" in info.value.message
        assert ns["f"].run(0) == 0
        assert sum(ns["counts"].values()) == 10_000
    finally:
        ns["f"].close()
        ns["counts"].close()


def _counter_loop(start: int, op: str, limit: int, step: int, var_type=S64):
    var = ir.Var("i", var_type)
    load = ir.Load(var_type, var)
    body: list[ir.Stmt] = [ir.Assign(var, ir.BinOp(var_type, "add", load,
                                                   ir.Const(var_type, step)))]
    cond = ir.Compare(S64, op, ir.Load(var_type, var), ir.Const(S64, limit), signed=True)
    loop = ir.Loop(ir.Var("w", S64), 0, 4096, 1, body, cond=cond)
    return [ir.Assign(var, ir.Const(var_type, start))], loop


@pytest.mark.parametrize(("start", "op", "limit", "step", "trips"), [
    (0, "lt", 100, 1, 100), (0, "le", 100, 1, 101), (5, "lt", 100, 10, 10),
    (100, "gt", 0, -1, 100), (100, "ge", 0, -3, 34), (0, "ne", 100, 4, 25),
    (0, "ne", 100, 3, None), (0, "lt", 100, -1, None), (7, "lt", 3, 1, 0)])
def test_while_trips(start: int, op: str, limit: int, step: int, trips: int | None) -> None:
    """Python's own count of the same loop is the reference."""
    before, loop = _counter_loop(start, op, limit, step)
    assert analysis.while_trips(before, loop) == trips
    if trips is not None:
        ops = {"lt": int.__lt__, "le": int.__le__, "gt": int.__gt__, "ge": int.__ge__,
               "ne": int.__ne__}
        i, n = start, 0
        while ops[op](i, limit):
            i, n = i + step, n + 1
        assert n == trips


def test_while_trips_not_plain() -> None:
    """A counter that can wrap, is set by something else, or skips its step is not plain."""
    before, loop = _counter_loop(0, "lt", 300, 1, U8)
    assert analysis.while_trips(before, loop) is None  # a u8 wraps before 300
    before, loop = _counter_loop(0, "lt", 100, 1)
    loop.body.append(ir.Continue())
    assert analysis.while_trips(before, loop) is None
    before, loop = _counter_loop(0, "lt", 100, 1)
    assert analysis.while_trips([], loop) is None  # where it starts is unknown
