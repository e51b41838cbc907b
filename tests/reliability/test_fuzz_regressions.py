"""The minimal programs the fuzzers found, kept as regression tests once fixed. While a defect
is open its test is a strict xfail (a fix shows up as XPASS and the mark must go) and the
fuzzers count its hits apart (`known_defect` in test_fuzz_oneliners.py and
test_fuzz_compiler.py); remove the entry there too when the fix lands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pybpf.compiler.errors import CompileError
from tests.util import oneliner_outcome, requires_root

pytestmark = requires_root

HEADER = ("from pybpf import bpf, u8, u16, u32, u64, s8, s16, s32, s64, pid, uid\n"
          "from pybpf import maps\n")


def _oneliner_ok(src: str) -> None:
    """Compiles and loads, or is rejected with a positioned, non-internal CompileError."""
    oneliner_outcome(src)


def _module(tmp_path, body: str):
    path = tmp_path / "m.py"
    src = HEADER + body
    path.write_text(src)
    ns: dict = {"__name__": "m"}
    exec(compile(src, str(path), "exec"), ns)
    return ns


def _refused(fn, line: int, col: int, text: str, kind: type = CompileError) -> None:
    """Loading `fn` fails with a `kind` error at line:col whose message holds `text`."""
    try:
        with pytest.raises(kind) as info:
            fn.load()
        err = info.value
        assert (err.loc.line, err.loc.col) == (line, col), err.render()
        assert text in err.message and "internal" not in err.render(), err.render()
    finally:
        fn.close()


def test_lang_hist_map_then_scalar() -> None:
    _oneliner_ok("BEGIN { @x = hist(1); @x = 1; }")


def test_lang_nested_while_loops() -> None:
    _oneliner_ok("BEGIN { $i = 0; while ($i < 100) { $j = 0; while ($j < 100) { "
                 "@x[$j] = count(); $j++; } $i++; } }")


def test_py_submit_struct_with_min_and_conditional(tmp_path) -> None:
    ns = _module(tmp_path, (
        "class Ev(bpf.Struct):\n    n: u64\n    tag: u8\n\n"
        "ring = maps.RingBuf(4096)\n\n"
        "@bpf.tracepoint('raw_syscalls:sys_enter')\n"
        "def f(ctx):\n"
        "    ring.submit(Ev(n=min(uid(), 3), tag=(1 if ctx.id else 2)))\n"))
    try:
        ns["f"].load()
    finally:
        ns["f"].close()
        ns["ring"].close()


def test_py_long_constant_loop(tmp_path) -> None:
    ns = _module(tmp_path, (
        "counts = maps.Hash(key=u32, value=u64, max_entries=64)\n\n"
        "@bpf.function\n"
        "def f(a: u64) -> u64:\n"
        "    for j in range(100000):\n"
        "        counts[j] += 1\n"
        "    return 0\n"))
    try:
        try:
            ns["f"].load()
        except CompileError as e:
            assert "internal compiler error" not in e.message, e.render()
    finally:
        ns["f"].close()
        ns["counts"].close()


def test_py_conditional_expression_type(tmp_path) -> None:
    ns = _module(tmp_path, (
        "@bpf.function\n"
        "def f(a: s32, b: s32) -> s64:\n"
        "    c: u64 = 0\n"
        "    return (b if a else c) >> 60\n"))
    f = ns["f"]
    try:
        assert f.run(1, -1) == f.py(1, -1)
    finally:
        f.close()


def test_py_missing_return(tmp_path) -> None:
    ns = _module(tmp_path, (
        "@bpf.function\n"
        "def f(a: u64) -> u8:\n"
        "    if a:\n"
        "        return 3\n"))
    f = ns["f"]
    try:
        try:
            _ = f.insns
        except CompileError as e:  # rejecting it with a position is a fine fix too
            assert e.loc.line >= 1 and "internal" not in e.message
            return
        assert f.run(0) == f.py(0)
    finally:
        f.close()


def test_py_reference_runs_ring_submit(tmp_path) -> None:
    ns = _module(tmp_path, (
        "class Pair(bpf.Struct):\n    a: u32\n\n"
        "ring = maps.RingBuf(4096)\n\n"
        "@bpf.function\n"
        "def f(a: u64) -> u64:\n"
        "    ring.submit(Pair(a=1))\n"
        "    return 0\n"))
    f, ring = ns["f"], ns["ring"]
    try:
        assert f.run(1) == 0 and len(ring.poll(0)) == 1
        assert f.py(1) == 0
    finally:
        f.close()
        ring.close()


def test_py_abs_of_unsigned(tmp_path) -> None:
    ns = _module(tmp_path, (
        "@bpf.function\n"
        "def f(a: u64) -> u64:\n"
        "    return abs(a)\n"))
    f = ns["f"]
    try:
        assert f.run(2**64 - 1) == f.py(2**64 - 1)
    finally:
        f.close()


def test_py_constant_condition_expression_type(tmp_path) -> None:
    ns = _module(tmp_path, (
        "@bpf.function\n"
        "def f(a: u8) -> s64:\n"
        "    return ~(255 if 1 else a)\n"))
    f = ns["f"]
    try:
        assert f.run(0) == f.py(0)
    finally:
        f.close()


def test_py_code_ruled_out_by_a_constant_runs_as_python(tmp_path) -> None:
    """A branch a constant condition rules out is never compiled; the Python reference run
    must not trip on it either (it raised KeyError for `@`)."""
    ns = _module(tmp_path, (
        "@bpf.function\n"
        "def f(a: u64) -> u64:\n"
        "    if 1:\n"
        "        return a + 1\n"
        "    else:\n"
        "        x = a @ a\n"
        "        x @= a\n"
        "    return 0\n"))
    try:
        assert ns["f"].run(4) == ns["f"].py(4) == 5
    finally:
        ns["f"].close()


def test_py_maybe_unassigned_variable_is_an_error(tmp_path) -> None:
    """A local assigned on some paths only: Python raises UnboundLocalError where the
    compiled program used to read zero; now a positioned CompileError (the fuzzer found it
    by running kernel and Python side by side)."""
    ns = _module(tmp_path, (
        "@bpf.function\n"
        "def f(p0: u8, p1: s16) -> s32:\n"
        "    if p0:\n"
        "        v1 = p1\n"
        "    return 5 if p1 or (p0 > v1) else v1\n"))
    _refused(ns["f"], 7, 29, "variable 'v1' may be read before it is assigned")


def test_py_loop_paths_beyond_the_verifier_are_a_positioned_error(tmp_path) -> None:
    """Found by loading every accepted program: conditional expressions inside nested loops
    multiply the paths the verifier follows past its 1,000,000 instructions, which the
    compiler's estimate does not see. Without bpf_loop the load names the outer loop, not a
    compiler bug; with it the loop the verifier gave up on runs as a callback, and the
    program agrees with Python."""
    import dataclasses

    from pybpf.compiler import hooks
    from pybpf.compiler.api import compile_function
    from pybpf.compiler.errors import VerifierLimitError
    from pybpf.compiler.rejection import verifier_rejection
    from pybpf.compiler.target import kernel_target
    from pybpf.sys import VerifierError

    ns = _module(tmp_path, (
        "from tests.reliability.fuzzmaps import counts, pairs, structs, pcpu\n"
        "LIMIT = 10\n"
        "MASK = 0xFF\n\n"
        "@bpf.function\n"
        "def f(p0: s32, p1: u32) -> u16:\n"
        "    v0: s8 = pcpu[1]\n"
        "    v1: u32 = (LIMIT if p0 else MASK)\n"
        "    v2: s64 = v0\n"
        "    v0 = structs[p0].a\n"
        "    v1 -= v2\n"
        "    w0 = 0\n"
        "    while w0 < 38:\n"
        "        w0 += 1\n"
        "        w1 = 0\n"
        "        while w1 < 17:\n"
        "            w1 += 1\n"
        "            v0 *= u64(structs[p1].b)\n"
        "            pairs[(max(v1, 18) ^ (v2 if LIMIT == v0 else v1)), (max(v1, 18) ^ "
        "(v2 if LIMIT == v0 else v1))] += pcpu[(LIMIT * p0)]\n"
        "        if counts.get(v0, p0) != p1:\n"
        "            break\n"
        "    return (p1 if (not (v2)) or (4 >= p1) else (-LIMIT))\n"))
    f = ns["f"]
    old_kernel = dataclasses.replace(kernel_target(), bpf_loop=False)
    code = compile_function(f.pyfunc, f.context(), old_kernel)
    with pytest.raises(VerifierError) as info:
        hooks.load(f.hook_kind, code.insns, "f").close()
    err = verifier_rejection(info.value, code.insns, code.ir)
    assert isinstance(err, VerifierLimitError), err.render()
    assert (err.loc.line, err.loc.col) == (15, 5), err.render()
    assert "this loop is too much for the verifier" in err.message, err.render()
    try:
        for args in ((0, 0), (1, 7), (-3, 2)):
            assert f.run(*args) == f.py(*args), args
        assert f.compiled.callback_loops, "no loop ran through bpf_loop"
    finally:
        f.close()


def test_lang_variable_widened_by_a_later_longer_string() -> None:
    """`$s = "abc"` and later a 64-byte str(): the variable takes the wider type (its slot was
    sized by the first assignment, and the verifier refused the write past it)."""
    _oneliner_ok('tracepoint:syscalls:sys_enter_openat { $s = "abc"; '
                 '$s = str(args.filename); printf("%s\\n", $s); }')
    res = subprocess.run([sys.executable, "-m", "pybpf.cli", "trace",
                          'BEGIN { $s = "abc"; printf("%s\\n", $s); $s = "abcdefghijkl"; '
                          'printf("%s\\n", $s); exit(); }'],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1:3] == ["abc", "abcdefghijkl"], res.stdout  # (Attaching)


def test_py_signed_division_by_a_runtime_conditional(tmp_path) -> None:
    """A conditional of two constants known only at run time was left untyped and 2**64 - 1
    divided by it as a signed -1 (kernel 2**64 - 1, Python 2**31 - 1). The conditional is now
    an s64 (u64 if a side needs it) and a constant past a signed divisor's range is an
    error, as for any other type it does not fit."""
    ns = _module(tmp_path, (
        "@bpf.function\n"
        "def f(p0: u32) -> u64:\n"
        "    v2: u16 = 7\n"
        "    return (18446744073709551615 % (256 if v2 != v2 else 2147483648))\n\n"
        "@bpf.function\n"
        "def g(p0: u32) -> u64:\n"
        "    return (256 if p0 else 2147483648) + (1 if p0 else 18446744073709551615) % 7\n"))
    try:
        with pytest.raises(CompileError) as info:
            ns["f"].load()
        assert "does not fit in s64" in info.value.message, info.value.render()
        assert (info.value.loc.line, info.value.loc.col) == (6, 13), info.value.render()
        for a in (0, 1):
            assert ns["g"].run(a) == ns["g"].py(a)
    finally:
        ns["f"].close()
        ns["g"].close()


def test_py_reference_run_of_a_full_map(tmp_path) -> None:
    """The Python reference run raised MapFullError where the kernel refuses the insert
    (and counts it); both now leave the map with its first keys."""
    ns = _module(tmp_path, (
        "small = maps.PerCPUHash(key=u32, value=u64, max_entries=4)\n\n"
        "@bpf.function\n"
        "def f(n: u32) -> u64:\n"
        "    for i in range(8):\n"
        "        if i < n:\n"
        "            small[i] += 1\n"
        "    return 0\n"))
    try:
        assert ns["f"].run(8) == 0
        kernel = sorted((k, sum(v)) for k, v in ns["small"].items())
        ns["small"].clear()
        assert ns["f"].py(8) == 0
        python = sorted((k, sum(v)) for k, v in ns["small"].items())
        assert kernel == python == [(0, 1), (1, 1), (2, 1), (3, 1)]
    finally:
        ns["f"].close()
        ns["small"].close()


def test_py_negated_constant_beyond_64_bits(tmp_path) -> None:
    """`-18446744073709551615` was folded exactly by the compiler (a comparison true) and
    wrapped by the Python reference (false): it does not fit in 64 bits, like the same
    literal written without the minus."""
    ns = _module(tmp_path, (
        "@bpf.function\n"
        "def f(p0: u32) -> u64:\n"
        "    if (-18446744073709551615) < (~8):\n"
        "        return 1\n"
        "    return 2\n"))
    _refused(ns["f"], 5, 9, "-18446744073709551615 does not fit in 64 bits")


def test_py_spill_slot_kept_across_a_key_built_inside_the_expression(tmp_path) -> None:
    """`v0 ^= (p1 + pairs[p1, 256])`: building the tuple key (statements inside the
    expression) spilled v0 and then gave its stack slot away again when the key was done,
    so p1 overwrote it (kernel 0, Python -1)."""
    ns = _module(tmp_path, (
        "from tests.reliability.fuzzmaps import pairs\n"
        "MASK = 0xFF\n\n"
        "@bpf.function\n"
        "def g(p0: s32, p1: u16, p2: u8, p3: u16) -> s64:\n"
        "    v0: s8 = p0\n"
        "    for i0 in range(2, 9):\n"
        "        v0 ^= ((MASK | p0) * p1)\n"
        "    v0 ^= (p1 + pairs[p1, 256])\n"
        "    return v0\n"))
    try:
        for args in ((1, 1, 1, 1), (5, 3, 0, 0), (-7, 65535, 1, 2)):
            assert ns["g"].run(*args) == ns["g"].py(*args), args
        assert ns["g"].run(1, 1, 1, 1) == -1
    finally:
        ns["g"].close()
