# ruff: noqa: F821, UP037  (local arrays are declared as `buf: "u32[8]"`, a compiler form)
"""A corpus of @bpf.function programs for the compiler's differential and acceptance tests.

Every function takes 1-5 integer arguments. `CASES` lists them with the maps each one touches
(the differential test clears those maps before each run and compares their contents
afterwards). Importing this module creates the maps, so it needs root (or CAP_BPF).

Known compiler bugs found with this corpus are recorded in `BUGS` (function name -> reason);
the tests mark those cases xfail(strict=True), so a fix shows up as an XPASS failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf import bpf, maps, s8, s16, s32, s64, u8, u16, u32, u64
from pybpf.compiler.api import FunctionProgram

# -- module-level constants ------------------------------------------------------------------
LIMIT = 10
MASK = 0xFF
BIG = 0xDEADBEEFCAFEBABE
NEG = -12345
FLAG = True


# -- maps ------------------------------------------------------------------------------------
class Pair(bpf.Struct):
    a: u32
    b: u64


class Small(bpf.Struct):
    lo: u8
    hi: s16
    n: u32


counts = maps.Hash(key=u32, value=u64, max_entries=64, name="c_counts")
lookup = maps.Hash(key=u32, value=s32, max_entries=64, name="c_lookup")
pairs = maps.Hash(key=(u32, u32), value=u64, max_entries=64, name="c_pairs")
structs = maps.Hash(key=u32, value=Pair, max_entries=64, name="c_structs")
smalls = maps.Hash(key=u16, value=Small, max_entries=64, name="c_smalls")
pcpu = maps.PerCPUHash(key=u32, value=u64, max_entries=64, name="c_pcpu")
pcpu_arr = maps.PerCPUArray(key=u32, value=u32, max_entries=8, name="c_pcpu_arr")
arr = maps.Array(key=u32, value=u64, max_entries=8, name="c_arr")
arr8 = maps.Array(key=u32, value=u8, max_entries=4, name="c_arr8")
side = maps.Hash(key=u32, value=u64, max_entries=16, name="c_side")

ALL_MAPS = [counts, lookup, pairs, structs, smalls, pcpu, pcpu_arr, arr, arr8, side]


# -- inline helpers --------------------------------------------------------------------------
@bpf.inline
def sq(x: u64) -> u64:
    return x * x


@bpf.inline
def sumsq(a: u64, b: u64) -> u64:
    return sq(a) + sq(b)


@bpf.inline
def sign(x: s64) -> s64:
    if x < 0:
        return -1
    if x > 0:
        return 1
    return 0


@bpf.inline
def first_multiple(n: u32, d: u32) -> u32:
    for i in range(1, 20):
        if (n + i) % d == 0:
            return n + i
    return 0


@bpf.inline
def bump(m, k: u32) -> u64:
    m[k] += 1
    return m[k]


@bpf.inline
def bump_twice(m, k: u32) -> u64:
    bump(m, k)
    return bump(m, k)


@bpf.inline
def mark(k: u32) -> u64:
    side[k] += 1
    return 1


@bpf.inline
def untyped(x, y):
    return x * 3 + y


@bpf.inline
def narrow(x: u8) -> u8:
    return x + 1


# -- arithmetic per width and signedness -----------------------------------------------------
@bpf.function
def add_u8(a: u8, b: u8) -> u8:
    return a + b


@bpf.function
def sub_u16(a: u16, b: u16) -> u16:
    return a - b


@bpf.function
def mul_u32(a: u32, b: u32) -> u32:
    return a * b


@bpf.function
def mul_u64(a: u64, b: u64) -> u64:
    return a * b + a - b


@bpf.function
def add_s8(a: s8, b: s8) -> s8:
    return a + b


@bpf.function
def mul_s16(a: s16, b: s16) -> s16:
    return a * b


@bpf.function
def sub_s32(a: s32, b: s32) -> s32:
    return a - b


@bpf.function
def mul_s64(a: s64, b: s64) -> s64:
    return a * b


@bpf.function
def add_s64_overflow(a: s64) -> s64:
    return a + 9223372036854775807


@bpf.function
def neg_s8(a: s8) -> s8:
    return -a


@bpf.function
def neg_u32(a: u32) -> u32:
    return -a


@bpf.function
def neg_s64(a: s64) -> s64:
    return -a


@bpf.function
def invert_u8(a: u8) -> u8:
    return ~a


@bpf.function
def invert_s16(a: s16) -> s16:
    return ~a


@bpf.function
def invert_u64(a: u64) -> u64:
    return ~a ^ 0x5555


@bpf.function
def bitops_u16(a: u16, b: u16) -> u16:
    return (a & b) | (a ^ (b >> 3))


# -- division and modulo ---------------------------------------------------------------------
@bpf.function
def div_u8(a: u8, b: u8) -> u8:
    return a // b


@bpf.function
def div_u32(a: u32, b: u32) -> u32:
    return a // b


@bpf.function
def mod_u32(a: u32, b: u32) -> u32:
    return a % b


@bpf.function
def div_u64(a: u64, b: u64) -> u64:
    return a // b


@bpf.function
def mod_u64(a: u64, b: u64) -> u64:
    return a % b


@bpf.function
def div_s8(a: s8, b: s8) -> s8:
    return a // b


@bpf.function
def mod_s8(a: s8, b: s8) -> s8:
    return a % b


@bpf.function
def div_s32(a: s32, b: s32) -> s32:
    return a // b


@bpf.function
def mod_s32(a: s32, b: s32) -> s32:
    return a % b


@bpf.function
def div_s64(a: s64, b: s64) -> s64:
    return a // b


@bpf.function
def mod_s64(a: s64, b: s64) -> s64:
    return a % b


@bpf.function
def divmod_const_s64(a: s64) -> s64:
    return a // -7 + a % -7 * 1000


@bpf.function
def divmod_const_u64(a: u64) -> u64:
    return a // 10 + a % 10


@bpf.function
def div_by_zero_const(a: s32) -> s32:
    return a // 0 + a % 0


# -- shifts ----------------------------------------------------------------------------------
@bpf.function
def shl_u8(a: u8, n: u8) -> u8:
    return a << n


@bpf.function
def shr_s16(a: s16, n: u8) -> s16:
    return a >> n


@bpf.function
def shl_u32(a: u32, n: u32) -> u32:
    return a << n


@bpf.function
def shr_s32(a: s32, n: u32) -> s32:
    return a >> n


@bpf.function
def shl_u64(a: u64, n: u64) -> u64:
    return a << n


@bpf.function
def shr_s64(a: s64, n: u64) -> s64:
    return a >> n


@bpf.function
def shr_u64(a: u64, n: s64) -> u64:
    return a >> n


@bpf.function
def shift_consts(a: u32) -> u32:
    return (a << 40) | (a >> 33)


@bpf.function
def shift_consts_s64(a: s64) -> s64:
    return (a << 70) + (a >> 63)


@bpf.function
def shl_lit(n: u8) -> u64:
    return 1 << n


# -- promotion and literal adaptation --------------------------------------------------------
@bpf.function
def mixed_u8_s32(a: u8, b: s32) -> s64:
    return a - b


@bpf.function
def mixed_u32_s32(a: u32, b: s32) -> s64:
    return a + b


@bpf.function
def mixed_s64_u32(a: s64, b: u32) -> s64:
    return a * b - b


@bpf.function
def mixed_u16_u64(a: u16, b: u64) -> u64:
    return a - b


@bpf.function
def mixed_s8_u8(a: s8, b: u8) -> s64:
    return a + b


@bpf.function
def lit_adapt_u8(a: u8) -> u64:
    return u16(a) + 300


@bpf.function
def lit_adapt_neg(a: u16) -> u64:
    return a * -1


@bpf.function
def lit_big_u32(a: u32) -> u64:
    return u64(a) + 0xFFFFFFFFFF


@bpf.function
def lit_xor_big(a: u64) -> u64:
    return a ^ 0xDEADBEEFCAFEBABE


@bpf.function
def lit_s64_wrap(a: s64) -> s64:
    return a & 0xFFFFFFFFFFFFFFFF


@bpf.function
def var_first_assign(a: u8) -> s64:
    x = a
    x = x + 200  # u8 arithmetic: wraps at 256
    return x


@bpf.function
def var_lit_s64(a: u32) -> s64:
    x = 0
    x = x - a
    return x


@bpf.function
def declared_var(a: u64) -> u64:
    x: u16 = a
    y: s8 = 0
    y = x
    return x * 3 + y


@bpf.function
def aug_assign(a: u32, b: u8) -> u32:
    x = a
    x += 7
    x *= 3
    x <<= b
    x //= 5
    x %= 1000003
    x ^= a
    x -= b
    x |= 1
    x &= 0xFFFF0
    x >>= 2
    return x


@bpf.function
def casts(a: u64) -> s64:
    return s8(a) + u16(a) + s32(a) + u8(a)


@bpf.function
def cast_chain(a: s64) -> u64:
    return u64(s8(u32(a))) + s16(u8(a))


@bpf.function
def int_bool(a: u32, b: s8) -> s64:
    return int(b) + bool(a) * 10


@bpf.function
def ret_narrow_u8(a: u64) -> u8:
    return a


@bpf.function
def ret_narrow_s16(a: u64) -> s16:
    return a + 1


@bpf.function
def ret_untyped(a: u64, b: u64):
    return a - b


@bpf.function
def module_consts(a: u64) -> u64:
    x = a & MASK
    if FLAG:
        x = x + LIMIT
    return (x ^ BIG) + NEG


# -- comparisons -----------------------------------------------------------------------------
@bpf.function
def cmp_s64(a: s64, b: s64) -> u64:
    return (a < b) + 2 * (a <= b) + 4 * (a > b) + 8 * (a >= b) + 16 * (a == b) + 32 * (a != b)


@bpf.function
def cmp_u64(a: u64, b: u64) -> u64:
    return (a < b) + 2 * (a <= b) + 4 * (a > b) + 8 * (a >= b) + 16 * (a == b) + 32 * (a != b)


@bpf.function
def cmp_s8(a: s8, b: s8) -> u64:
    return (a < b) + 2 * (a <= b) + 4 * (a > b) + 8 * (a >= b)


@bpf.function
def cmp_u16_s16(a: u16, b: s16) -> u64:
    return (a < b) + 2 * (a == b) + 4 * (a > b)


@bpf.function
def cmp_s32_u32(a: s32, b: u32) -> u64:
    return (a < b) + 2 * (a == b) + 4 * (a > b)


@bpf.function
def cmp_chain(a: s32, b: s32, c: s32) -> u64:
    return a < b <= c


@bpf.function
def cmp_chain_lits(a: s64) -> u64:
    return (0 <= a < 100) + 2 * (-5 < a != 7)


@bpf.function
def cmp_big_imm(a: u64) -> u64:
    return (a > 0xFFFFFFFF00000000) + 2 * (a == 0xFFFFFFFFFFFFFFFF) + 4 * (a < 0x80000000)


@bpf.function
def cmp_neg_lit(a: s32, b: u32) -> u64:
    return (a < -5) + 2 * (b > -1) + 4 * (-1 == a)


@bpf.function
def cmp_lit_left(a: u8) -> u64:
    return (200 < a) + 2 * (-1 < a) + 4 * (300 > a)


# -- and / or / not --------------------------------------------------------------------------
@bpf.function
def logic_values(a: u64, b: u64) -> u64:
    return (a and b) + 2 * (a or b) + 4 * (not a) + 8 * (not (a < b))


@bpf.function
def logic_guard_div(a: u32, b: u32) -> u64:
    if b != 0 and a // b > 3:
        return 1
    if b == 0 or a % b == 1:
        return 2
    return 3


@bpf.function
def short_circuit_and(a: u32) -> u64:
    r = 0
    if a > 10 and mark(1):
        r += 1
    if a > 20 or mark(2):
        r += 2
    if not (a < 5 and mark(3)):
        r += 4
    return r + side[1] * 10 + side[2] * 100 + side[3] * 1000


# -- conditional expressions and control flow ------------------------------------------------
@bpf.function
def clamp(x: u64, lo: u64, hi: u64) -> u64:
    return lo if x < lo else hi if x > hi else x


@bpf.function
def cond_mixed(c: u8, a: u8, b: s32) -> s64:
    return a if c else b


@bpf.function
def classify(a: s32) -> u64:
    if a < 0:
        if a < -100:
            return 1
        return 2
    elif a == 0:
        return 3
    elif a < 10:
        r = 4
    elif a < 1000:
        if a & 1:
            r = 5
        else:
            r = 6
    else:
        r = 7
    return r * 10


@bpf.function
def for_sum(a: u32) -> u64:
    s = 0
    for i in range(LIMIT):
        s += a * i
    return s


@bpf.function
def for_break_continue(a: u32) -> s64:
    s = 0
    for i in range(50):
        if i % 3 == 0:
            continue
        if i * i > a:
            break
        s += i
    return s


@bpf.function
def for_step(a: s32) -> s64:
    s = 0
    for i in range(20, -7, -3):
        s = s * 3 + i + a
    for j in range(-5, 5, 2):
        s = s ^ j
    return s


@bpf.function
def nested_loops(a: u8, b: u8) -> u64:
    s = 0
    for i in range(8):
        for j in range(8):
            if j > i:
                break
            if (i + j) & 1:
                continue
            s += (a >> i) * (b >> j)
    return s


@bpf.function
def while_gcd(a: u32, b: u32) -> u32:
    while b != 0:
        t = a % b
        a = b
        b = t
    return a


@bpf.function
def while_collatz(n: u16) -> u64:
    x: u64 = n
    steps = 0
    while x > 1:
        if x % 2 == 0:
            x = x // 2
        else:
            x = 3 * x + 1
        steps += 1
    return steps


@bpf.function
def while_break(a: u32) -> u64:
    i = 0
    while True:
        i += 1
        if i * i >= a:
            break
        if i > 100:
            break
    return i


@bpf.function
def while_count(a: u16) -> u64:
    i: u64 = 0
    while i < a:
        i += 1
    return i


@bpf.function
def loop_var_typed(a: u8) -> u64:
    i: u8 = 0
    s: u64 = 0
    for i in range(250, 260):
        s += i + a
    return s


# -- min / max / abs -------------------------------------------------------------------------
@bpf.function
def minmax_s32(a: s32, b: s32) -> s64:
    return min(a, b) * 3 + max(a, b)


@bpf.function
def minmax_u64(a: u64, b: u64) -> u64:
    return min(a, b) ^ max(a, b)


@bpf.function
def minmax_mixed(a: s32, b: u16) -> s64:
    return min(a, b) + max(b, -1)


@bpf.function
def abs_s64(a: s64) -> s64:
    return abs(a)


@bpf.function
def abs_s8(a: s8) -> s8:
    return abs(a)


@bpf.function
def abs_u32(a: u32) -> u32:
    return abs(a)


# -- inline calls ----------------------------------------------------------------------------
@bpf.function
def inline_sq(a: u64) -> u64:
    return sq(a) + 1


@bpf.function
def inline_nested(a: u64, b: u64) -> u64:
    return sumsq(a, b) - sq(a - b)


@bpf.function
def inline_sign(a: s64, b: s64) -> s64:
    return sign(a) * 10 + sign(b)


@bpf.function
def inline_loop_return(n: u32, d: u32) -> u32:
    return first_multiple(n, d)


@bpf.function
def inline_untyped(a: u32, b: u32) -> s64:
    return untyped(a, b)


@bpf.function
def inline_narrow(a: u64) -> u64:
    return narrow(a) + narrow(255)


@bpf.function
def inline_map_arg(a: u32) -> u64:
    k = a & 7
    x = bump(counts, k)
    y = bump(side, k)
    return x * 100 + y


@bpf.function
def inline_map_nested(a: u32) -> u64:
    return bump_twice(counts, a & 3) + bump_twice(counts, a & 3)


# -- local arrays ----------------------------------------------------------------------------
@bpf.function
def array_sum(a: u32) -> u64:
    buf: "u32[8]"
    for i in range(8):
        buf[i] = a * i
    s: u64 = 0
    for i in range(8):
        s += buf[i]
    return s


@bpf.function
def array_var_index(a: u32, b: u32) -> s64:
    buf: "s8[16]"
    for i in range(16):
        buf[i] = i * 20
    buf[a & 15] = b
    return buf[b & 15] + buf[3]


# -- maps ------------------------------------------------------------------------------------
@bpf.function
def map_count(a: u32) -> u64:
    counts[a & 15] += 1
    counts[a & 7] += 2
    counts[3] -= 1
    return counts[a & 15]


@bpf.function
def map_set_get(a: u32, b: s32) -> s64:
    lookup[a & 31] = b
    return lookup[a & 31] + lookup.get(99, 77) + lookup.get(a, -1)


@bpf.function
def map_in_del(a: u32, b: u32) -> u64:
    counts[a & 7] = b
    r = 0
    if (a & 7) in counts:
        r += 1
    if (b & 7) not in counts:
        r += 2
    del counts[b & 7]
    if (a & 7) in counts:
        r += 4
    return r


@bpf.function
def map_tuple_key(a: u32, b: u32) -> u64:
    pairs[a & 3, b & 3] += 1
    pairs[b & 3, a & 3] += 10
    pairs[a, b] = 5
    return pairs[a & 3, b & 3] + pairs.get((0, 0), 9)


@bpf.function
def map_struct_fields(a: u32, b: u64) -> u64:
    structs[a & 3].a = a
    structs[a & 3].b += b
    structs[1].b += 1
    return structs[a & 3].a + structs[a & 3].b


@bpf.function
def map_struct_small(a: u16, b: s16) -> s64:
    smalls[a & 3].hi = b
    smalls[a & 3].lo = a
    smalls[a & 3].n += 3
    return smalls[a & 3].hi + smalls[a & 3].lo + smalls[7].n


@bpf.function
def map_percpu(a: u32) -> u64:
    pcpu[a & 7] += a
    pcpu[1] += 1
    return pcpu[a & 7]


@bpf.function
def map_percpu_array(a: u32) -> u64:
    pcpu_arr[a & 7] += 5
    pcpu_arr[0] = a
    return pcpu_arr[a & 7] + pcpu_arr[0]


@bpf.function
def map_array(a: u32, b: u64) -> u64:
    arr[a % 8] = b
    arr[(a + 1) % 8] += 1
    return arr[a % 8] + arr[(a + 1) % 8] + arr[100]


@bpf.function
def map_array_u8(a: u32, b: u8) -> u64:
    arr8[a & 3] += b
    arr8[(a + 1) & 3] = b * 2
    return arr8[a & 3] + arr8[3]


@bpf.function
def map_loop(a: u32) -> u64:
    for i in range(6):
        counts[i] = a + i
    s = 0
    for i in range(8):
        s += counts.get(i, 1000)
    return s


@bpf.function
def map_default_typed(a: u32) -> s64:
    return lookup.get(a, -5) + lookup[a]


@bpf.function
def map_key_truncate(a: u64) -> u64:
    counts[a] += 1
    return counts[a]


@bpf.function
def map_value_truncate(a: u32, b: s64) -> s64:
    lookup[a & 7] = b
    return lookup[a & 7]


tuple_keys = maps.Hash(key=(u32, u32, u64), value=u64, max_entries=64, name="c_tkeys")


@bpf.inline
def observe(m, key, v: u64) -> u64:
    m[key, v] += 1
    return 0


@bpf.function
def inline_tuple_arg(a: u32, b: u32, c: u64) -> u64:
    observe(tuple_keys, (a, b + 1), c)
    observe(tuple_keys, (b, a), c & 7)
    return tuple_keys[a, b + 1, c]


# -- local structs, typing corner cases ------------------------------------------------------
@bpf.function
def struct_local(a: u64) -> u64:
    p = Pair(a, a)
    p.a += 1
    p.b = p.b * 2
    return p.a + p.b


@bpf.function
def struct_local_kw(a: s16, b: u8) -> s64:
    s = Small(hi=a, lo=b)
    s.n = s.hi
    return s.n + s.lo + s.hi


@bpf.function
def branch_first_assign(a: u8) -> s64:
    if a > 100:
        y = 5
    else:
        y = a
    y = y - 200
    return y


@bpf.function
def param_reassign(a: u8, b: u32) -> u64:
    a = b
    return a + 0


@bpf.function
def pending_short_circuit(a: u32) -> u64:
    if a > 10 and min(mark(1), 5) > 0:
        return side[1] + 100
    return side[1]


@bpf.function
def pending_order(a: u32) -> u64:
    x = side[1] + min(bump(side, 1), 100)
    return x


@bpf.function
def pending_ifexp(a: u32) -> u64:
    r = min(mark(2), 1) if a > 10 else 0
    return r + side[2] * 10


@bpf.function
def while_min_cond(a: u32, b: u32) -> u64:
    n = 0
    while min(a, b) > n:
        n += 1
    return n


@bpf.function
def for_big_range(a: u64) -> u64:
    s = a
    for i in range(0, 5000000000, 1000000000):
        s += i
    return s


@bpf.function
def for_long(a: u32) -> u64:
    s = 0
    for i in range(3000):
        s += a ^ i
    return s


@bpf.function
def spill_pressure(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64:
    return ((a + b) * (c + d) ^ (a - e) * (b - c)) + ((d * e + a) * (b ^ c + counts[a & 3]) -
            (e + (a if b > c else d) * (c if d < e else b)) * (counts[b & 3] + a))


@bpf.function
def spill_inline(a: u64, b: u64, c: u64) -> u64:
    return a * sq(b + sumsq(c, a)) + (b - sq(c)) * sumsq(a + b, sq(a))


@bpf.function
def inline_in_inline_arg(a: u64) -> u64:
    return sq(sq(a))


@bpf.function
def inline_in_loop(n: u32, d: u32) -> u64:
    s = 0
    for i in range(4):
        if i == 2:
            continue
        s += first_multiple(n + i, d)
    return s


@bpf.function
def inline_in_key(a: u32) -> u64:
    counts[sq(a & 3)] += sq(a & 7)
    return counts.get(sq(a & 3), 3)


@bpf.function
def lit_overflow_fold(a: s64) -> s64:
    return a + (0x7FFFFFFFFFFFFFFF + 10) - (1 << 63) * 4


@bpf.function
def truth_in_var(a: s32, b: s32) -> s64:
    t = a < b
    u = (a < b) == (b < a)
    return t * 2 + u - (not t)


@bpf.function
def cmp_eq_cmp(a: s32, b: s32) -> s64:
    return (a < b) == (b < a)


@bpf.function
def five_args(a: u8, b: s16, c: u32, d: s64, e: u64) -> s64:
    return a * b + c // (d | 1) - e % (a + 1)


@dataclass
class Case:
    fn: Any
    maps: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.fn.__name__


_MAPS_OF = {
    "inline_tuple_arg": [tuple_keys],
    "short_circuit_and": [side],
    "inline_map_arg": [counts, side],
    "inline_map_nested": [counts],
    "map_count": [counts],
    "map_set_get": [lookup],
    "map_in_del": [counts],
    "map_tuple_key": [pairs],
    "map_struct_fields": [structs],
    "map_struct_small": [smalls],
    "map_percpu": [pcpu],
    "map_percpu_array": [pcpu_arr],
    "map_array": [arr],
    "map_array_u8": [arr8],
    "map_loop": [counts],
    "map_default_typed": [lookup],
    "map_key_truncate": [counts],
    "map_value_truncate": [lookup],
    "pending_short_circuit": [side],
    "pending_order": [side],
    "pending_ifexp": [side],
    "spill_pressure": [counts],
    "while_min_cond": [],
    "inline_in_key": [counts],
}

CASES: list[Case] = [Case(v, _MAPS_OF.get(k, [])) for k, v in list(globals().items())
                     if isinstance(v, FunctionProgram) and k == v.__name__]

# name -> reason, for the cases that currently fail; the tests mark them
# xfail(strict=True), so a fix shows up as XPASS (then delete the entry).
# Cases the compiler/verifier rejects (they fail in test_acceptance too):
LOAD_BUGS: dict[str, str] = {}
# Cases that compile and load but where f.run() and f.py() disagree (or f.py() raises):
BUGS: dict[str, str] = {**LOAD_BUGS}

# Inputs that must be tried for a case (in addition to 0s, 1s, -1s, mins and maxes).
EXAMPLES: dict[str, list[tuple[int, ...]]] = {
    "ret_untyped": [(0, 1)],
    "while_count": [(5000,)],
    "param_reassign": [(0, 1000)],
    "struct_local": [(2**32,)],
    "struct_local_kw": [(-32768, 0)],
    "inline_in_inline_arg": [(3,)],
    "spill_inline": [(3, 5, 7)],
}


def close_all() -> None:
    for case in CASES:
        case.fn.close()


def param_types(fn: Any) -> list[Any]:
    """The IR integer type of each parameter (u64 when not annotated)."""
    from pybpf.compiler.irtypes import U64
    from pybpf.compiler.pyfront.source import source_of
    from pybpf.compiler.pyref import _annotation

    src = source_of(fn.pyfunc)
    return [_annotation(src, a.annotation) or U64 for a in src.tree.args.args]


def snapshot(ms: list[Any]) -> dict[str, dict[Any, Any]]:
    """The contents of maps, comparable across runs (per-CPU values summed over CPUs,
    structs as dicts)."""
    out: dict[str, dict[Any, Any]] = {}
    for m in ms:
        d = {}
        for k, v in m.items():
            if isinstance(v, list):
                v = sum(v)
            elif isinstance(v, bpf.Struct):
                v = v.as_dict()
            d[k] = v
        out[m.name] = d
    return out
