"""ISA semantics against the running kernel: assemble, load, BPF_PROG_TEST_RUN, compare
with a Python model of Documentation/bpf/standardization/instruction-set.rst.

Each check computes a 64-bit result in r1 and compares it inside the program with the
model's value (retval is only 32 bits); on a mismatch the actual value is fetched with two
more runs (low half, then r1 >> 32) for the message.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf import asm

try:
    from pybpf.program import Program
except ImportError as exc:  # another layer, written concurrently
    pytest.skip(f"pybpf.program is not importable: {exc}", allow_module_level=True)

if os.geteuid() != 0:
    pytest.skip("loading BPF programs needs root (CAP_BPF)", allow_module_level=True)

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
PACKET = bytes(range(64))


def sx(value: int, bits: int) -> int:
    """Sign-extend the low `bits` of value to a Python int."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def run(text: str, data: bytes = PACKET) -> int:
    prog = Program.load("socket_filter", asm.assemble(text), license="GPL")
    try:
        return prog.test_run(data=data).retval
    finally:
        prog.close()


def check(body: str, expected: int, data: bytes = PACKET) -> None:
    """Run body (which leaves its result in r1) and compare r1 with expected (64 bits)."""
    expected &= M64
    ok = run(f"{body}\nr3 = {expected:#x} ll\nif r1 == r3 goto good\nr0 = 0\nexit\n"
             "good:\nr0 = 1\nexit", data)
    if ok != 1:
        lo = run(f"{body}\nr0 = r1\nexit", data)
        hi = run(f"{body}\nr0 = r1\nr0 >>= 32\nexit", data)
        actual = (hi << 32) | lo
        pytest.fail(f"expected {expected:#x}, kernel gave {actual:#x} for:\n{body}")


def test_check_detects_a_wrong_model() -> None:
    check("r1 = 5", 5)
    with pytest.raises(pytest.fail.Exception, match="kernel gave 0x5"):
        check("r1 = 5", 6)


# ALU ------------------------------------------------------------------------------------

VALUES = [0, 1, 3, 7, 31, 32, 33, 63, 64, 65, -1, -7, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
          0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x1234_5678_9ABC_DEF0]
PAIRS = [(a, b) for a in VALUES for b in (0, 1, -1, 3, -7, 32, 64, 65, 0x8000_0000,
                                           0x1_0000_0005, 0x8000_0000_0000_0000)
         if (VALUES.index(a) + b) % 3 == 0]


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def alu_model(sym: str, bits: int, dst: int, src: int) -> int:
    mask = M64 if bits == 64 else M32
    a, b = dst & mask, src & mask
    sa, sb = sx(a, bits), sx(b, bits)
    shift = b & (bits - 1)
    results: dict[str, Callable[[], int]] = {
        "+=": lambda: a + b,
        "-=": lambda: a - b,
        "*=": lambda: a * b,
        "/=": lambda: a // b if b else 0,
        "%=": lambda: a % b if b else a,
        "s/=": lambda: _trunc_div(sa, sb) if b else 0,
        "s%=": lambda: sa - sb * _trunc_div(sa, sb) if b else a,
        "|=": lambda: a | b,
        "&=": lambda: a & b,
        "^=": lambda: a ^ b,
        "<<=": lambda: a << shift,
        ">>=": lambda: a >> shift,
        "s>>=": lambda: sa >> shift,
        "=": lambda: b,
    }
    return results[sym]() & mask


ALU_SYMS = ["+=", "-=", "*=", "/=", "%=", "s/=", "s%=", "|=", "&=", "^=", "<<=", ">>=",
            "s>>=", "="]


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("sym", ALU_SYMS)
def test_alu_register(sym: str, bits: int) -> None:
    r = "r" if bits == 64 else "w"
    for a, b in PAIRS:
        body = f"r1 = {a & M64:#x} ll\nr2 = {b & M64:#x} ll\n{r}1 {sym} {r}2"
        check(body, alu_model(sym, bits, a, b))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(ALU_SYMS),
    st.sampled_from([64, 32]),
    st.integers(0, M64),
    st.one_of(st.integers(0, M64), st.integers(0, 70), st.sampled_from([0, 1, M64])),
)
def test_alu_register_random(sym: str, bits: int, a: int, b: int) -> None:
    r = "r" if bits == 64 else "w"
    check(f"r1 = {a:#x} ll\nr2 = {b:#x} ll\n{r}1 {sym} {r}2", alu_model(sym, bits, a, b))


IMMS = [1, -1, 3, -7, 0x7FFF_FFFF, -0x8000_0000]


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("sym", ALU_SYMS)
def test_alu_immediate(sym: str, bits: int) -> None:
    """Immediates are sign-extended to 64 bits for ALU64 (also for unsigned div/mod)."""
    r = "r" if bits == 64 else "w"
    for a in VALUES[::3]:
        for imm in IMMS:
            if sym in ("<<=", ">>=", "s>>=") and not 0 <= imm < bits:
                continue  # the verifier rejects constant shifts out of range
            check(f"r1 = {a & M64:#x} ll\n{r}1 {sym} {imm}", alu_model(sym, bits, a, imm))


def test_division_corner_cases() -> None:
    int64_min, int32_min = 0x8000_0000_0000_0000, 0x8000_0000
    cases = [
        ("r", "/=", 5, 0, 0),  # division by zero gives 0
        ("w", "/=", 0x1_0000_0005, 0, 0),
        ("r", "%=", 5, 0, 5),  # modulo by zero leaves dst unchanged...
        ("w", "%=", 0x1_0000_0005, 0, 5),  # ...and ALU32 zeroes the upper half
        ("r", "s/=", int64_min, -1, int64_min),  # INT_MIN / -1 wraps to INT_MIN
        ("r", "s%=", int64_min, -1, 0),
        ("w", "s/=", int32_min, -1, int32_min),
        ("w", "s%=", int32_min, -1, 0),
        ("r", "s%=", -7, 3, -1),  # the remainder takes the dividend's sign
        ("r", "s%=", 7, -3, 1),
        ("r", "s/=", -7, 2, -3),  # truncation towards zero
    ]
    for r, sym, a, b, want in cases:
        bits = 64 if r == "r" else 32
        assert alu_model(sym, bits, a, b) == want & (M64 if bits == 64 else M32)
        check(f"r1 = {a & M64:#x} ll\nr2 = {b & M64:#x} ll\n{r}1 {sym} {r}2", want)


def test_shift_by_register_is_masked() -> None:
    for amount in (64, 65, 127, 200):
        check(f"r1 = 0x3 ll\nr2 = {amount}\nr1 <<= r2", 3 << (amount & 63))
        check(f"r1 = -1 ll\nr2 = {amount}\nr1 s>>= r2", -1)
    for amount in (32, 33, 63):
        check(f"r1 = 0x3 ll\nr2 = {amount}\nw1 <<= w2", (3 << (amount & 31)) & M32)
        check(f"r1 = 0x80000000 ll\nr2 = {amount}\nw1 s>>= w2",
              (sx(0x8000_0000, 32) >> (amount & 31)) & M32)


def test_neg() -> None:
    for a in VALUES:
        check(f"r1 = {a & M64:#x} ll\nr1 = -r1", -a)
        check(f"r1 = {a & M64:#x} ll\nw1 = -w1", (-a) & M32)


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_movsx(bits: int) -> None:
    for a in [0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF_8001, 0x1_8000_0000, -1]:
        check(f"r2 = {a & M64:#x} ll\nr1 = (s{bits})r2", sx(a, bits))
        if bits < 32:
            check(f"r1 = -1 ll\nr2 = {a & M64:#x} ll\nw1 = (s{bits})w2", sx(a, bits) & M32)


def _swap(value: int, bits: int) -> int:
    return int.from_bytes((value & ((1 << bits) - 1)).to_bytes(bits // 8, "little"), "big")


@pytest.mark.parametrize("bits", [16, 32, 64])
def test_byte_swaps(bits: int) -> None:
    value = 0x0102_0304_0506_0708
    base = f"r1 = {value:#x} ll\n"
    check(base + f"r1 = le{bits} r1", value & ((1 << bits) - 1))  # little-endian host
    check(base + f"r1 = be{bits} r1", _swap(value, bits))
    check(base + f"r1 = bswap{bits} r1", _swap(value, bits))


# jumps --------------------------------------------------------------------------------

def jmp_model(sym: str, bits: int, a: int, b: int) -> bool:
    mask = M64 if bits == 64 else M32
    ua, ub = a & mask, b & mask
    sa, sb = sx(ua, bits), sx(ub, bits)
    return {
        "==": ua == ub, "!=": ua != ub, ">": ua > ub, ">=": ua >= ub, "<": ua < ub,
        "<=": ua <= ub, "s>": sa > sb, "s>=": sa >= sb, "s<": sa < sb, "s<=": sa <= sb,
        "&": ua & ub != 0,
    }[sym]


JMP_SYMS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]
JMP_VALUES = [0, 1, -1, 5, -5, 0x8000_0000, 0x1_0000_0000, 0x1_0000_0005, 0x8000_0000_0000_0000]


@pytest.mark.parametrize("bits", [64, 32])
@pytest.mark.parametrize("sym", JMP_SYMS)
def test_conditional_jumps(sym: str, bits: int) -> None:
    r = "r" if bits == 64 else "w"
    for a in JMP_VALUES:
        for b in JMP_VALUES:
            want = int(jmp_model(sym, bits, a, b))
            head = f"r1 = {a & M64:#x} ll\nr2 = {b & M64:#x} ll\nr0 = 1\n"
            got = run(head + f"if {r}1 {sym} {r}2 goto pc+1\nr0 = 0\nexit")
            assert got == want, f"if {r}1 {sym} {r}2 with {a:#x}, {b:#x}"
            if -(1 << 31) <= b < (1 << 31):  # the immediate form, sign-extended
                got = run(head + f"if {r}1 {sym} {b} goto pc+1\nr0 = 0\nexit")
                assert got == want, f"if {r}1 {sym} {b} with {a:#x}"


@pytest.mark.parametrize("jump", ["goto pc+1", "gotol pc+1", "goto skip", "gotol skip"])
def test_goto_and_gotol(jump: str) -> None:
    """r2 = skb->len (never 0, but unknown to the verifier) keeps both paths reachable."""
    text = f"""
        r0 = 1
        r2 = *(u32 *)(r1 +0)
        if r2 == 0 goto pc+1
        {jump}
        r0 = 2
    skip:
        exit
    """
    assert run(text) == 1


def test_bpf_to_bpf_call() -> None:
    text = """
        r1 = 21
        call double
        r0 += 1
        exit
    double:
        r0 = r1
        r0 <<= 1
        exit
    """
    assert run(text) == 43


def test_helper_call() -> None:
    assert run("call bpf_get_smp_processor_id\nr0 = 7\nexit") == 7


# memory -------------------------------------------------------------------------------

PATTERN = 0x8182_8384_8586_8788  # stored at fp-8: bytes 88 87 86 85 84 83 82 81


# the verifier wants aligned stack accesses, below fp
LOAD_SLOTS = [(size, off) for size in (8, 16, 32, 64) for off in (-8, -7, -6, -4, -2)
              if -off * 8 >= size and off % (size // 8) == 0]


@pytest.mark.parametrize(("size", "off"), LOAD_SLOTS)
def test_loads_zero_and_sign_extend(size: int, off: int) -> None:
    data = PATTERN.to_bytes(8, "little")
    start = 8 + off
    raw = int.from_bytes(data[start:start + size // 8], "little")
    store = f"r2 = {PATTERN:#x} ll\n*(u64 *)(r10 -8) = r2\n"
    check(store + f"r1 = *(u{size} *)(r10 {off:+d})", raw)
    if size < 64:
        check(store + f"r1 = *(s{size} *)(r10 {off:+d})", sx(raw, size))


def test_store_immediate_sign_extends() -> None:
    check("*(u64 *)(r10 -8) = -2\nr1 = *(u64 *)(r10 -8)", -2)
    check("r2 = 0\n*(u64 *)(r10 -8) = r2\n*(u16 *)(r10 -8) = -2\nr1 = *(u64 *)(r10 -8)",
          0xFFFE)


ATOMIC_OPS = {"add": lambda a, b: a + b, "or": lambda a, b: a | b,
              "and": lambda a, b: a & b, "xor": lambda a, b: a ^ b}
LOCK_SYM = {"add": "+=", "or": "|=", "and": "&=", "xor": "^="}


def _atomic_case(size: int, init: int, operand: int, op: Callable[[int, int], int]
                 ) -> tuple[int, int]:
    """(memory after, value fetched) for a fetch-op on the u64 slot at fp-8."""
    mask = M64 if size == 64 else M32
    old = init & mask
    new = op(old, operand & mask) & mask
    return (init & ~mask & M64) | new, old


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("name", list(ATOMIC_OPS))
def test_atomic_rmw_on_stack(name: str, size: int) -> None:
    init, operand = 0xF0F0_F0F0_FFFF_FFF0, 0x1_0000_0011
    memory, old = _atomic_case(size, init, operand, ATOMIC_OPS[name])
    head = f"r2 = {init:#x} ll\n*(u64 *)(r10 -8) = r2\nr1 = {operand:#x} ll\n"
    bits = "64" if size == 64 else ""
    lock = f"lock *(u{size} *)(r10 -8) {LOCK_SYM[name]} r1\n"
    fetch = f"r1 = atomic{bits}_fetch_{name}((u{size} *)(r10 -8), r1)\n"
    check(head + lock + "r1 = *(u64 *)(r10 -8)", memory)
    check(head + fetch + "r1 = *(u64 *)(r10 -8)", memory)
    check(head + fetch, old)  # the fetched old value, zero-extended for 32 bits


@pytest.mark.parametrize("size", [32, 64])
def test_atomic_xchg_and_cmpxchg(size: int) -> None:
    init, operand = 0xAAAA_AAAA_5555_5555, 0x1234_5678_9ABC_DEF0
    mask = M64 if size == 64 else M32
    bits = "64" if size == 64 else ""
    head = f"r2 = {init:#x} ll\n*(u64 *)(r10 -8) = r2\nr1 = {operand:#x} ll\n"
    swapped = (init & ~mask & M64) | (operand & mask)
    xchg = f"r1 = atomic{bits}_xchg((u{size} *)(r10 -8), r1)\n"
    check(head + xchg, init & mask)
    check(head + xchg + "r1 = *(u64 *)(r10 -8)", swapped)
    for expected, hit in ((init, True), (init + 1, False)):
        cas = (head + f"r0 = {expected & M64:#x} ll\n"
               f"r0 = atomic{bits}_cmpxchg((u{size} *)(r10 -8), r0, r1)\n")
        check(cas + "r1 = r0", init & mask)  # r0 receives the old value
        check(cas + "r1 = *(u64 *)(r10 -8)", swapped if hit else init)


def test_legacy_packet_loads() -> None:
    """LD_ABS/LD_IND read the packet in network byte order; r6 must hold the skb.

    A socket filter's test run pulls the 14-byte Ethernet header, so skb[k] is byte 14 + k.
    """
    data = bytes(range(64))

    def at(k: int, n: int) -> int:
        return int.from_bytes(data[14 + k:14 + k + n], "big")

    assert run("r6 = r1\nr0 = *(u8 *)skb[5]\nexit", data) == at(5, 1)
    assert run("r6 = r1\nr0 = *(u16 *)skb[12]\nexit", data) == at(12, 2)
    assert run("r6 = r1\nr0 = *(u32 *)skb[20]\nexit", data) == at(20, 4)
    assert run("r6 = r1\nr7 = 30\nr0 = *(u16 *)skb[r7 + 2]\nexit", data) == at(32, 2)


def test_map_reference_end_to_end() -> None:
    from pybpf import maps

    counts = maps.Array(key="u32", value="u64", max_entries=1, name="counts")
    try:
        text = """
            r1 = 0
            *(u32 *)(r10 -4) = r1
            r2 = r10
            r2 += -4
            r1 = map[counts] ll
            call bpf_map_lookup_elem
            if r0 == 0x0 goto out
            r1 = 5
            lock *(u64 *)(r0 +0) += r1
            r2 = map[counts][0] + 0 ll
            r1 = 2
            lock *(u64 *)(r2 +0) += r1
        out:
            r0 = 0
            exit
        """
        insns = asm.assemble(text, {"counts": counts})
        assert "map[counts]" in asm.disassemble(insns)
        prog = Program.load("socket_filter", insns, license="GPL")
        try:
            prog.test_run(data=PACKET)
            prog.test_run(data=PACKET)
        finally:
            prog.close()
        assert counts[0] == 14
    finally:
        counts.close()
