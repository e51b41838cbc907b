# ruff: noqa: F821, UP037  (a local array is declared as `xs: "u64[4]"`, a compiler form)
"""Loops past the verifier's budget run through bpf_loop (issue 17 item 10): the body is a
callback on the caller's frame, verified once. Differential (.run() == .py()), in hooked
programs and one-liners, and the errors where it cannot be done."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from pybpf import bpf, maps, pid, s64, u32, u64
from pybpf.compiler.api import compile_function
from pybpf.compiler.errors import CompileError
from pybpf.compiler.target import kernel_target
from tests.util import oneliner_outcome, requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the maps are created at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)

ME = os.getpid()
loop_counts = maps.Hash(key=u32, value=u64, max_entries=1024, name="bpfloop_counts")
NO_BPF_LOOP = dataclasses.replace(kernel_target(), bpf_loop=False)


@bpf.function
def nested(a: u64) -> s64:
    """200 x 100 iterations with break, continue and a return from inside."""
    total = 0
    for i in range(200):
        if i == a:
            return total
        for j in range(100):
            if j > i:
                break
            if j % 2:
                continue
            loop_counts[j] += 1
            total += j
    return -total


@bpf.function
def collatz(a: u64) -> s64:
    """A `while` bounded by its counter, with a loop inside: steps are counted exactly."""
    n = a
    steps = 0
    while n > 1 and steps < 1000:
        if n % 2:
            n = 3 * n + 1
        else:
            n = n // 2
        steps += 1
        for k in range(60):
            loop_counts[k + 100] += 1
    return steps


@bpf.function
def long_sum(a: u64) -> u64:
    """300,000 iterations: more than the verifier would follow one by one."""
    total = 0
    for i in range(300_000):
        total += (i ^ a) & 7
    return total


@bpf.function
def stack_values(a: u64) -> u64:
    """Arrays, tuples and map keys on the caller's frame, written and read in the body."""
    xs: "u64[4]"
    for j in range(4):
        xs[j] = 0
    best = 0
    for i in range(3000):
        for j in range(4):
            xs[j] += (i * (j + 1) + a) % 5
        key = (i % 7) + 300
        loop_counts[key] += xs[i % 4] & 1
        best = max(best, xs[i % 4])
    return best + xs[0] + xs[3]


@pytest.fixture(autouse=True)
def _clean():
    loop_counts.clear()
    yield
    for f in (nested, collatz, long_sum, stack_values):
        f.close()


def _map() -> dict[int, int]:
    return {int(k): int(v) for k, v in loop_counts.items()}


@pytest.mark.parametrize("a", [0, 5, 150, 999])
def test_nested_loops_with_break_continue_return(a: int) -> None:
    got = nested.run(a)
    kernel = _map()
    loop_counts.clear()
    assert got == nested.py(a)
    assert kernel == _map()  # the map updates agree too
    assert nested.compiled.callback_loops, "the loops did not go to bpf_loop"


@pytest.mark.parametrize("a", [1, 27, 97, 871])
def test_while_with_a_counter_and_a_loop_inside(a: int) -> None:
    got = collatz.run(a)
    kernel = _map()
    loop_counts.clear()
    assert got == collatz.py(a)
    assert kernel == _map()


def test_many_iterations() -> None:
    a = 0xFF
    assert long_sum.run(a) == long_sum.py(a) == sum((i ^ a) & 7 for i in range(300_000))


def test_stack_values_in_the_body() -> None:
    for a in (0, 2):
        loop_counts.clear()
        got = stack_values.run(a)
        kernel = _map()
        loop_counts.clear()
        assert got == stack_values.py(a)
        assert kernel == _map()


def test_without_bpf_loop_the_loop_is_refused_at_its_place() -> None:
    """On a kernel before 5.17 the same loop is the budget's positioned error."""
    with pytest.raises(CompileError) as info:
        compile_function(long_sum.pyfunc, long_sum.context(), NO_BPF_LOOP)
    err = info.value
    assert err.loc.line == long_sum.pyfunc.__code__.co_firstlineno + 4, err.render()
    assert "too much for the verifier" in err.message, err.render()


def test_a_return_of_an_inlined_function_inside_is_a_positioned_error(tmp_path) -> None:
    path = tmp_path / "inl.py"
    path.write_text(
        "from pybpf import bpf, u64\n\n"
        "@bpf.inline\n"
        "def first_over(limit: u64) -> u64:\n"
        "    for i in range(1_000_000):\n"
        "        if i * i > limit:\n"
        "            return i\n"
        "    return 0\n\n"
        "@bpf.function\n"
        "def f(a: u64) -> u64:\n"
        "    return first_over(a)\n")
    ns: dict = {"__name__": "inl"}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    with pytest.raises(CompileError) as info:
        ns["f"].load()
    err = info.value
    assert (err.loc.line, err.loc.col) == (5, 5), err.render()
    assert "bpf_loop either" in err.hint and "inlined function" in err.hint, err.render()


# -- in a hooked program: the context and helpers from inside the callback ---------------

@bpf.tracepoint("syscalls:sys_enter_getppid")
def hooked_loop(ctx):
    if pid() != ME:
        return
    for i in range(20_000):
        if (i ^ ctx.__syscall_nr) % 1000 == 0:
            loop_counts[pid() & 0] += 1


def test_hooked_program_reads_its_context_in_the_callback() -> None:
    try:
        with hooked_loop.attach():
            for _ in range(3):
                os.getppid()
        nr = 110 if os.uname().machine == "x86_64" else None
        expected = sum(1 for i in range(20_000) if (i ^ nr) % 1000 == 0) if nr else None
        got = _map()
        assert set(got) == {0}
        assert got[0] == 3 * expected if expected else got[0] % 3 == 0
        assert hooked_loop.compiled.callback_loops
    finally:
        hooked_loop.close()


def test_oneliner_nested_while_runs_all_its_iterations() -> None:
    """bpftrace's language: 100 x 100 map updates, past the budget without bpf_loop."""
    src = ("BEGIN { $i = 0; while ($i < 100) { $j = 0; while ($j < 100) { @x[$j % 4] = "
           "count(); $j++; } $i++; } exit(); }")
    assert "too much for the verifier" in oneliner_outcome(src, NO_BPF_LOOP)
    out = subprocess.run([sys.executable, "-m", "pybpf.cli", "trace", src], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert [ln for ln in out.stdout.splitlines() if ln.startswith("@x[")] == \
        ["@x[0]: 2500", "@x[1]: 2500", "@x[2]: 2500", "@x[3]: 2500"], out.stdout
    assert "Traceback" not in out.stderr
