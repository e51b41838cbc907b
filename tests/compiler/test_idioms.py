# ruff: noqa: F821, UP037  (a local array is declared as `xs: "u32[5]"`, a compiler form)
"""Everyday idioms of issue 17, differential (.run() == .py()): string comparison in the
kernel, and shifts typed by their left operand."""

from __future__ import annotations

import os

import pytest

from pybpf import bpf, comm, maps, pid, s8, s64, u32, u64
from tests.util import requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the maps are created at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)

names = maps.Hash(key=u32, value="char[16]", max_entries=8, name="idiom_names")
NAMES = {1: "nginx", 2: "nginx", 3: "bash", 4: "ngin", 5: "x" * 16}


@bpf.function
def shift_right(x: s64, n: u64) -> s64:
    return x >> n


@bpf.function
def string_tests(k: u32) -> u64:
    s = names[k]
    return (s == "nginx") + 2 * (s != "bash") + 4 * s.startswith("ng") + \
        8 * (s == names[k + 1]) + 16 * ("nginx" == s)


@pytest.mark.parametrize("x, n", [(-16, 2), (-1, 63), (16, 2), (-(1 << 63), 1), (5, 64)])
def test_shift_takes_the_left_type(x: int, n: int, program_closed) -> None:
    program_closed(shift_right)
    assert shift_right.run(x, n) == shift_right.py(x, n) == s64(x).value >> (n & 63)


def test_shift_example_from_the_issue(program_closed) -> None:
    program_closed(shift_right)
    assert shift_right.run(-16, 2) == -4


@pytest.mark.parametrize("k", range(7))
def test_string_compare(k: int, program_closed) -> None:
    program_closed(string_tests)
    names.clear()
    for key, value in NAMES.items():
        names[key] = value
    s, nxt = NAMES.get(k, ""), NAMES.get(k + 1, "")
    want = (s == "nginx") + 2 * (s != "bash") + 4 * s.startswith("ng") + 8 * (s == nxt) + \
        16 * (s == "nginx")
    assert string_tests.run(k) == string_tests.py(k) == want


# -- tuple assignment (issue 17 item 3) ---------------------------------------------------------

swapped = maps.Hash(key=u32, value=u64, max_entries=8, name="idiom_swap")


@bpf.function
def gcd(a: u64, b: u64) -> u64:
    for _ in range(100):  # Euclid needs at most ~93 steps for 64-bit numbers
        if b == 0:
            break
        a, b = b, a % b
    return a


@bpf.function
def fib(n: u32) -> u64:
    a, b = u64(0), u64(1)
    for i in range(90):
        if i < n:
            a, b = b, a + b
    return a


@bpf.function
def swap_locals(x: s64, y: s64) -> s64:
    x, y = y, x
    lo, hi, width = x, y, 3  # a new variable from a constant, one from an argument
    return (lo - hi) * width


@bpf.function
def swap_map_values(k: u32) -> u64:
    swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k] * 10
    return swapped[k] * 1000 + swapped[k + 1]


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


@pytest.mark.parametrize("a, b", [(12, 18), (0, 5), (5, 0), (2**64 - 1, 2**32 - 1),
                                  (1071, 462), (17, 17), (2**63, 6)])
def test_tuple_assignment_gcd(a: int, b: int, program_closed) -> None:
    program_closed(gcd)
    assert gcd.run(a, b) == gcd.py(a, b) == _gcd(a, b)


@pytest.mark.parametrize("n", [0, 1, 2, 10, 50, 89])
def test_tuple_assignment_fibonacci(n: int, program_closed) -> None:
    program_closed(fib)
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    assert fib.run(n) == fib.py(n) == a % 2**64


@pytest.mark.parametrize("x, y", [(1, 2), (-5, 7), (2**62, -(2**62))])
def test_tuple_assignment_swaps(x: int, y: int, program_closed) -> None:
    program_closed(swap_locals)
    want = s64((y - x) * 3).value
    assert swap_locals.run(x, y) == swap_locals.py(x, y) == want


def test_tuple_assignment_of_map_values(program_closed) -> None:
    program_closed(swap_map_values)
    swapped.clear()
    swapped[3], swapped[4] = 7, 9
    assert swap_map_values.run(3) == 9 * 1000 + 70  # both read before either is written
    assert swapped[3] == 9 and swapped[4] == 70


pairs = maps.Hash(key=u32, value=("u64", "s32"), max_entries=8, name="idiom_pairs")


@bpf.function
def unpack_a_tuple_variable(a: u64, b: u64) -> u64:
    pair = (a, b + 1)
    x, y = pair
    return x * 1000 + y * 10 + pair[-1] - pair[0]


@bpf.function
def unpack_a_map_value(k: u32) -> s64:
    total, count = pairs[k]  # absent: zeros, as a missing key reads everywhere
    return total * 100 + count + pairs[k][1] * 10


def test_unpacking_a_tuple_variable(program_closed) -> None:
    program_closed(unpack_a_tuple_variable)
    for a, b in [(1, 2), (0, 0), (7, 300)]:
        pair = (a, b + 1)
        want = pair[0] * 1000 + pair[1] * 10 + pair[-1] - pair[0]
        assert unpack_a_tuple_variable.run(a, b) == unpack_a_tuple_variable.py(a, b) == want


def test_unpacking_a_map_value(program_closed) -> None:
    program_closed(unpack_a_map_value)
    pairs.clear()
    pairs[2] = (40, -3)
    for k, (total, count) in [(2, (40, -3)), (5, (0, 0))]:
        want = total * 100 + count + count * 10
        assert unpack_a_map_value.run(k) == unpack_a_map_value.py(k) == want


def test_tuple_assignment_errors_are_positioned() -> None:
    from pybpf.compiler.errors import CompileError

    @bpf.function
    def three_into_two(a: u64) -> u64:
        x, y = a, a, a
        return x + y

    @bpf.function
    def not_a_tuple(a: u64) -> u64:
        x, y = a
        return x + y

    @bpf.function
    def three_from_a_pair(k: u32) -> s64:
        x, y, z = pairs[k]
        return x + y + z

    @bpf.function
    def index_out_of_range(a: u64) -> u64:
        pair = (a, a)
        return pair[2]

    for fn, text, where in [(three_into_two, "cannot unpack 3 values into 2 targets",
                             "x, y = a, a, a"),
                            (not_a_tuple, "only a tuple can be unpacked, not a u64 value",
                             "x, y = a"),
                            (three_from_a_pair, "cannot unpack 2 values into 3 targets",
                             "x, y, z = pairs[k]"),
                            (index_out_of_range, "a tuple of 2 is indexed by a constant in "
                             "-2..1", "return pair[2]")]:
        with pytest.raises(CompileError) as e:
            fn.insns  # noqa: B018 - compiling is the point
        msg = str(e.value)
        assert text in msg and where in msg, msg
        assert ":" in msg.splitlines()[0], msg  # file:line:col first


# -- constants computed when compiling (issue 17 item 2) ----------------------------------------

MAGIC = b"\x7fELF"
SHIFT = 2 ** 4


@bpf.function
def folded(a: u64) -> u64:
    return ord("W") + 2 ** 10 + len(b"abc") + len(MAGIC) * 1000 + SHIFT * 10000 + \
        int("ff", 16) * 100000 + int("12") + ord(chr(65)) + min(3, 9) + max(2, -5) + abs(-4) + \
        (-2) ** 3


def test_constant_builtins_fold(program_closed) -> None:
    program_closed(folded)
    want = ord("W") + 2 ** 10 + 3 + 4 * 1000 + 16 * 10000 + 255 * 100000 + 12 + 65 + 3 + 2 + 4 \
        - 8
    assert folded.run(5) == folded.py(5) == want
    # nothing of it is left to compute in the kernel: the whole sum is one constant
    from pybpf import asm

    text = asm.disassemble(folded.insns)
    assert f"= {want}\n" in text and not any(op in text for op in ("+=", "*=", "<<=")), text


SIXTY_SIX = b"B" * 66


def test_a_shadowed_builtin_is_not_folded_inside_another() -> None:
    """ord(chr(len(...))) with a `len` of the program's own: that len is not Python's, so
    the outer call is not computed with the builtin (it was: 66 instead of an error)."""
    from pybpf.compiler.errors import CompileError

    def len(x: object) -> int:  # noqa: A001 - the shadowing is the point
        return 7

    @bpf.function
    def shadowed(a: u64) -> u64:
        return ord(chr(len(SIXTY_SIX)))

    with pytest.raises(CompileError) as e:
        shadowed.insns  # noqa: B018 - compiling is the point
    assert "ord() is computed when compiling" in str(e.value), str(e.value)


def test_constant_builtins_need_constants() -> None:
    from pybpf.compiler.errors import CompileError

    @bpf.function
    def power_of_a_variable(a: u64) -> u64:
        return a ** 2

    @bpf.function
    def ord_of_a_variable(a: u64) -> u64:
        s = comm()
        return ord(s)

    @bpf.function
    def too_big(a: u64) -> u64:
        return a + 2 ** 64

    for fn, text in [(power_of_a_variable, "both operands must be constants"),
                     (ord_of_a_variable, "ord() is computed when compiling"),
                     (too_big, "18446744073709551616 does not fit in 64 bits")]:
        with pytest.raises(CompileError) as e:
            fn.insns  # noqa: B018 - compiling is the point
        msg = str(e.value)
        assert text in msg and "test_idioms.py:" in msg.splitlines()[0], msg


# -- loops over local arrays (issue 17 item 3) --------------------------------------------------

@bpf.function
def array_loops(n: u32) -> u64:
    xs: "u32[5]"
    for i in range(5):
        xs[i] = n * i + 1
    total = u64(0)
    for v in xs:
        total += v
    weighted = u64(0)
    for i, v in enumerate(xs, 1):
        weighted += i * v
    first_big = u64(99)
    for i, v in enumerate(xs):
        if v > n:
            first_big = i
            break
    return total * 1000000 + weighted * 100 + first_big


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 2**32 - 1])
def test_for_over_a_local_array_and_enumerate(n: int, program_closed) -> None:
    program_closed(array_loops)
    xs = [(n * i + 1) % 2**32 for i in range(5)]
    first_big = next((i for i, v in enumerate(xs) if v > n), 99)
    want = (sum(xs) * 1000000 + sum(i * v for i, v in enumerate(xs, 1)) * 100 + first_big) \
        % 2**64
    assert array_loops.run(n) == array_loops.py(n) == want


# -- the same idioms in a hooked program, on real events ----------------------------------------

ME = os.getpid()
hooked_state = maps.Array(value=u64, max_entries=4, name="idiom_hooked")


@bpf.tracepoint("syscalls:sys_enter_getppid")
def hooked_idioms(ctx):
    if pid() != ME:
        return
    a, b = hooked_state[0], hooked_state[1]
    hooked_state[0], hooked_state[1] = b + 1, a + ord("x")  # both read before either is set
    if comm() == "pytest" or comm().startswith("python"):
        hooked_state[2] += 2 ** 3


def test_idioms_in_a_tracepoint_program() -> None:
    try:
        with hooked_idioms.attach():
            for _ in range(3):
                os.getppid()
        a, b = 0, 0
        for _ in range(3):
            a, b = b + 1, a + ord("x")
        assert (hooked_state[0], hooked_state[1]) == (a, b)  # (122, 241)
        name = open(f"/proc/{ME}/comm").read().strip()
        assert hooked_state[2] == (24 if name == "pytest" or name.startswith("python") else 0)
    finally:
        hooked_idioms.close()


# -- a bare attach() stays attached (issue 17 item 8) -------------------------------------------

bare_counts = maps.Array(value=u64, max_entries=1, name="idiom_bare")


@bpf.tracepoint("syscalls:sys_enter_getppid")
def count_my_getppid(ctx):
    if pid() == ME:
        bare_counts[0] += 1


def test_bare_attach_stays_attached_until_close() -> None:
    import gc

    try:
        count_my_getppid.attach()  # the result is not kept, as with bcc's attach_tracepoint
        gc.collect()
        for _ in range(5):
            os.getppid()
        assert bare_counts[0] == 5
        count_my_getppid.detach()
        os.getppid()
        assert bare_counts[0] == 5  # detached: not counted
        count_my_getppid.attach()
        gc.collect()
        os.getppid()
        assert bare_counts[0] == 6
    finally:
        count_my_getppid.close()
    os.getppid()
    assert bare_counts[0] == 6  # closed: detached too


# -- field copies (issue 17 item 6) -------------------------------------------------------------

class Rec(bpf.Struct):
    n: u64
    name: "char[16]"


class Ev(bpf.Struct):
    pid: u32
    name: "char[16]"


recs = maps.Hash(key=u32, value=Rec, max_entries=8, name="idiom_recs")


@bpf.function
def copy_map_field(k: u32) -> u64:
    ev = Ev(pid=1)
    ev.name = recs[k].name  # a char[16] field of a map value into a struct's field
    return (ev.name == "nginx") + 2 * (recs[k].name == "") + 4 * (ev.pid == 1)


@pytest.mark.parametrize("k, name", [(1, "nginx"), (2, "bash"), (3, None)])
def test_copy_a_string_field_of_a_map_value(k: int, name: str | None, program_closed) -> None:
    program_closed(copy_map_field)
    recs.clear()
    if name is not None:
        recs[k] = Rec(n=5, name=name.encode())
    want = (name == "nginx") + 2 * (name is None) + 4
    assert copy_map_field.run(k) == copy_map_field.py(k) == want


@bpf.function
def folded_min_keeps_its_type(p0: u32) -> u64:
    # found by the fuzzer: an untyped 256 would take s8's type here and compare equal to 0
    return (s8(2147483648) == min(256, 2147483648)) + 2 * (abs(-3) == 3) + 4 * (max(-1, -2) < 0)


def test_folded_min_max_abs_are_s64(program_closed) -> None:
    program_closed(folded_min_keeps_its_type)
    assert folded_min_keeps_its_type.run(0) == folded_min_keeps_its_type.py(0) == 6


# -- stacked hook decorators (issue 17 item 11) -------------------------------------------------

@pytest.mark.parametrize("outer", ["tracepoint", "inline", "function"])
def test_stacked_decorators_are_a_positioned_error(outer: str) -> None:
    from pybpf.compiler.errors import CompileError

    def body(ctx) -> int:
        return 0

    inner = bpf.tracepoint("syscalls:sys_enter_close")(body)
    wrap = {"tracepoint": bpf.tracepoint("syscalls:sys_enter_openat"),
            "inline": bpf.inline, "function": bpf.function}[outer]
    with pytest.raises(CompileError) as e:
        wrap(inner)
    msg = str(e.value)
    assert "body() has two pybpf decorators: a function compiles for one hook" in msg, msg
    assert "@bpf.inline" in msg and "test_idioms.py:" in msg.splitlines()[0], msg


# -- a while loop bounded by a counter it joins with `and` (issue 17 item 10) -------------------

@bpf.function
def collatz_steps(n: u64) -> u64:
    steps = u64(0)
    while n > 1 and steps < 1000:  # too costly for the verifier without the counter's bound
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def _collatz_steps(n: int) -> int:
    steps = 0
    while n > 1 and steps < 1000:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


@pytest.mark.parametrize("n", [0, 1, 2, 27, 97, 871, 2**40 + 1])
def test_while_bounded_by_a_counter_in_an_and(n: int, program_closed) -> None:
    program_closed(collatz_steps)
    assert collatz_steps.run(n) == collatz_steps.py(n) == _collatz_steps(n)


# -- for over a fixed-array field (issue 17 item 10) --------------------------------------------

class Samples(bpf.Struct):
    n: u32
    vals: "u32[4]"


samples = maps.Hash(key=u32, value=Samples, max_entries=8, name="idiom_samples")


@bpf.function
def sum_of_a_field(k: u32) -> u64:
    total = u64(0)
    for v in samples[k].vals:
        total += v
    weighted = u64(0)
    rec = samples[k]
    for i, v in enumerate(rec.vals, 1):
        weighted += i * v
    return total * 1000 + weighted


def test_for_over_an_array_field(program_closed) -> None:
    program_closed(sum_of_a_field)
    samples.clear()
    samples[1] = Samples(n=4, vals=(5, 6, 7, 8))
    for k, vals in [(1, (5, 6, 7, 8)), (2, (0, 0, 0, 0))]:
        want = sum(vals) * 1000 + sum(i * v for i, v in enumerate(vals, 1))
        assert sum_of_a_field.run(k) == sum_of_a_field.py(k) == want


def test_for_over_a_scalar_field_is_a_positioned_error() -> None:
    from pybpf.compiler.errors import CompileError

    @bpf.function
    def over_a_number(k: u32) -> u64:
        total = u64(0)
        for v in samples[k].n:
            total += v
        return total

    with pytest.raises(CompileError) as e:
        over_a_number.insns  # noqa: B018 - compiling is the point
    msg = str(e.value)
    assert "a u32 value cannot be looped over" in msg and "samples[k].n" in msg, msg
