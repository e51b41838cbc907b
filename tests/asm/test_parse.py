"""Parsing: both syntaxes, pasted tool output, labels, maps, errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf import asm
from pybpf.asm import AsmError, Instruction
from pybpf.asm.opcodes import (
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_KFUNC_CALL,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
    LD_IMM64,
)

I = Instruction  # noqa: E741 - short alias for tables

KERNEL = [
    ("r0 = 42", I(0xB7, 0, imm=42)),
    ("w0 = 1", I(0xB4, 0, imm=1)),
    ("r1 = r10", I(0xBF, 1, 10)),
    ("r1 += -8", I(0x07, 1, imm=-8)),
    ("w1 s>>= w2", I(0xCC, 1, 2)),
    ("r0 s/= r1", I(0x3F, 0, 1, 1)),
    ("w0 s%= 3", I(0x94, 0, 0, 1, 3)),
    ("r1 = (s8)r2", I(0xBF, 1, 2, 8)),
    ("w1 = (s16)w2", I(0xBC, 1, 2, 16)),
    ("r1 = (s32)r2", I(0xBF, 1, 2, 32)),
    ("r1 = -r1", I(0x87, 1)),
    ("w1 = -w1", I(0x84, 1)),
    ("r0 = be16 r0", I(0xDC, 0, imm=16)),
    ("r0 = le64 r0", I(0xD4, 0, imm=64)),
    ("r0 = bswap32 r0", I(0xD7, 0, imm=32)),
    ("r0 = *(u32 *)(r1 +4)", I(0x61, 0, 1, 4)),
    ("r0 = *(s32 *)(r1 +4)", I(0x81, 0, 1, 4)),
    ("r0 = *(s8 *)(r1 -1)", I(0x91, 0, 1, -1)),
    ("*(u64 *)(r10 -8) = r1", I(0x7B, 10, 1, -8)),
    ("*(u32 *)(r10 -4) = 0", I(0x62, 10, 0, -4, 0)),
    ("*(u8 *)(r10 -1) = -1", I(0x72, 10, 0, -1, -1)),
    ("if r1 == 0x0 goto pc+2", I(0x15, 1, 0, 2, 0)),
    ("if r1 != 0xffffffff goto pc+2", I(0x55, 1, 0, 2, -1)),
    ("if w1 s> w2 goto pc-3", I(0x6E, 1, 2, -3)),
    ("if r1 & 0x4 goto pc+1", I(0x45, 1, 0, 1, 4)),
    ("if w3 s<= 0x7 goto pc+0", I(0xD6, 3, 0, 0, 7)),
    ("goto pc-1", I(0x05, off=-1)),
    ("gotol pc+100000", I(0x06, imm=100000)),
    ("may_goto pc+3", I(0xE5, off=3)),
    ("lock *(u64 *)(r0 +0) += r1", I(0xDB, 0, 1, 0, 0x00)),
    ("lock *(u32 *)(r0 +8) ^= r1", I(0xC3, 0, 1, 8, 0xA0)),
    ("r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)", I(0xDB, 0, 1, 0, 0x01)),
    ("r1 = atomic_fetch_or((u32 *)(r0 +4), r1)", I(0xC3, 0, 1, 4, 0x41)),
    ("r1 = atomic64_xchg((u64 *)(r0 +0), r1)", I(0xDB, 0, 1, 0, 0xE1)),
    ("r0 = atomic_cmpxchg((u32 *)(r2 -4), r0, r3)", I(0xC3, 2, 3, -4, 0xF1)),
    ("r0 = load_acquire((u64 *)(r1 +0))", I(0xDB, 0, 1, 0, 0x100)),
    ("store_release((u32 *)(r1 +8), r2)", I(0xC3, 1, 2, 8, 0x110)),
    ("r0 = *(u16 *)skb[12]", I(0x28, imm=12)),
    ("r0 = *(u8 *)skb[r7 + 3]", I(0x50, 0, 7, imm=3)),
    ("r1 = 0x123456789", I(LD_IMM64, 1, imm=0x123456789)),
    ("r1 = 0x2a", I(LD_IMM64, 1, imm=42)),  # the kernel prints ld_imm64 in hex
    ("r1 = 5000000000", I(LD_IMM64, 1, imm=5_000_000_000)),
    ("r1 = map[id:5]", I(LD_IMM64, 1, BPF_PSEUDO_MAP_FD, imm=5)),
    ("r1 = map[fd:5][0]+16", I(LD_IMM64, 1, BPF_PSEUDO_MAP_VALUE, imm=(16 << 32) | 5)),
    ("r1 = btf_id[77]", I(LD_IMM64, 1, BPF_PSEUDO_BTF_ID, imm=77)),
    ("r2 = subprog[pc+4]", I(LD_IMM64, 2, BPF_PSEUDO_FUNC, imm=4)),
    ("call bpf_map_lookup_elem#1", I(0x85, imm=1)),
    ("call bpf_get_current_pid_tgid#14", I(0x85, imm=14)),
    ("call bpf_map_lookup_elem", I(0x85, imm=1)),
    ("call map_lookup_elem", I(0x85, imm=1)),
    ("call 1", I(0x85, imm=1)),
    ("call unknown#5000", I(0x85, imm=5000)),
    ("call pc+3", I(0x85, 0, BPF_PSEUDO_CALL, imm=3)),
    ("call pc-7", I(0x85, 0, BPF_PSEUDO_CALL, imm=-7)),
    ("call kfunc#101", I(0x85, 0, BPF_PSEUDO_KFUNC_CALL, imm=101)),
    ("call bpf_obj_new_impl#54321", I(0x85, 0, BPF_PSEUDO_KFUNC_CALL, imm=54321)),
    ("call kernel-function#9", I(0x85, 0, BPF_PSEUDO_KFUNC_CALL, imm=9)),
    ("r1 = addr_space_cast(r2, 0, 1)", I(0xBF, 1, 2, 1, 1)),
    ("exit", I(0x95)),
]


@pytest.mark.parametrize(("text", "want"), KERNEL, ids=[t for t, _ in KERNEL])
def test_kernel_syntax(text: str, want: Instruction) -> None:
    assert asm.assemble(text) == [want]


LLVM = [
    ("r0 = *(u32 *)(r1 + 4)", I(0x61, 0, 1, 4)),
    ("w0 = *(u8 *)(r1 - 2)", I(0x71, 0, 1, -2)),
    ("*(u32 *)(r10 - 4) = w1", I(0x63, 10, 1, -4)),
    ("if r1 == 3 goto +2", I(0x15, 1, 0, 2, 3)),
    ("if w1 s> -1 goto -3", I(0x66, 1, 0, -3, -1)),
    ("goto +5 <LBB0_3>", I(0x05, off=5)),
    ("r0 = 0x123456789 ll", I(LD_IMM64, 0, imm=0x123456789)),
    ("r0 = 42 ll", I(LD_IMM64, 0, imm=42)),
    ("r1 = -1 ll", I(LD_IMM64, 1, imm=(1 << 64) - 1)),
    ("r0 = 0x2a", I(0xB7, 0, imm=42)),  # LLVM: a mov without ll
    ("r0 = 0xffffffff", I(0xB7, 0, imm=-1)),
    ("lock *(u64 *)(r0 + 0) += r1", I(0xDB, 0, 1, 0, 0)),
    ("lock *(u32 *)(r0 + 0) &= w1", I(0xC3, 0, 1, 0, 0x50)),
    ("r1 = atomic_fetch_add((u64 *)(r0 + 0), r1)", I(0xDB, 0, 1, 0, 0x01)),
    ("w1 = atomic_fetch_xor((u32 *)(r0 + 8), w1)", I(0xC3, 0, 1, 8, 0xA1)),
    ("r0 = cmpxchg_64(r1 + 0, r0, r2)", I(0xDB, 1, 2, 0, 0xF1)),
    ("w0 = cmpxchg32_32(r1 + 4, w0, w2)", I(0xC3, 1, 2, 4, 0xF1)),
    ("w0 = xchg32_32(r1 + 0, w0)", I(0xC3, 1, 0, 0, 0xE1)),
    ("r3 = xchg_64(r1 - 8, r3)", I(0xDB, 1, 3, -8, 0xE1)),
    ("r0 = be16 r0", I(0xDC, 0, imm=16)),
    ("r0 = bswap16 r0", I(0xD7, 0, imm=16)),
    ("r1 = (s8)r2", I(0xBF, 1, 2, 8)),
    ("r0 s/= r1", I(0x3F, 0, 1, 1)),
    ("r0 s%= 3", I(0x97, 0, 0, 1, 3)),
    ("r1 += -0x8", I(0x07, 1, imm=-8)),
    ("r0 = *(u16 *)skb[r1]", I(0x48, 0, 1)),
    ("call 14", I(0x85, imm=14)),
]


@pytest.mark.parametrize(("text", "want"), LLVM, ids=[t for t, _ in LLVM])
def test_llvm_syntax(text: str, want: Instruction) -> None:
    assert asm.assemble(text, syntax="llvm") == [want]


VERIFIER_LOG = """\
func#0 @0
0: R1=ctx() R10=fp0
0: (b7) r1 = 0                        ; R1_w=0
1: (63) *(u32 *)(r10 -4) = r1
mark_precise: frame0: last_idx 1 first_idx 0 subseq_idx -1
2: R1_w=0 R10=fp0 fp-8=0000????
2: (bf) r2 = r10                      ; R2_w=fp0 R10=fp0
3: (07) r2 += -4                      ; R2_w=fp-4
4: (18) r1 = 0xffff88810585d200       ; R1_w=map_ptr(map=array,ks=4,vs=8)
6: (85) call bpf_map_lookup_elem#1    ; R0=map_value(map=array,ks=4,vs=8)
7: (15) if r0 == 0x0 goto pc+3        ; R0=map_value(map=array,ks=4,vs=8)
8: (b7) r1 = 1                        ; R1_w=1
9: (db) lock *(u64 *)(r0 +0) += r1    ; R0=map_value(map=array,ks=4,vs=8) R1_w=1
10: (db) r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)          ; R1_w=scalar()
11: (b7) r0 = 0                       ; R0_w=0
12: (95) exit
processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1
"""


def test_pasted_verifier_log() -> None:
    insns = asm.assemble(VERIFIER_LOG)
    assert [i.code for i in insns] == [
        0xB7, 0x63, 0xBF, 0x07, 0x18, 0x85, 0x15, 0xB7, 0xDB, 0xDB, 0xB7, 0x95]
    assert insns[4] == I(LD_IMM64, 1, imm=0xFFFF88810585D200)
    assert insns[6] == I(0x15, 0, 0, 3, 0)
    # slot indices of the paste and of the result agree
    assert asm.slot_offsets(insns) == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]


LIVENESS = """\
Live regs before insn:
      0: .......... (b7) r1 = 0
      1: .1........ (63) *(u32 *)(r10 -4) = r1
      4: ..2....... (18) r1 = 0xffff88810585d200
      7: 0......... (15) if r0 == 0x0 goto pc+5
"""


def test_pasted_liveness_listing() -> None:
    assert [i.code for i in asm.assemble(LIVENESS)] == [0xB7, 0x63, 0x18, 0x15]


BPFTOOL_XLATED = """\
   0: (b7) r1 = 0
   1: (63) *(u32 *)(r10 -4) = r1
   2: (bf) r2 = r10
   3: (07) r2 += -4
   4: (18) r1 = map[id:518]
   6: (07) r1 += 312
   7: (61) r0 = *(u32 *)(r2 +0)
   8: (35) if r0 >= 0x1 goto pc+3
  ; return 0; [file.c:12]
  17: (18) r2 = map[id:518][0]+0
  19: (95) exit
"""


def test_pasted_bpftool_xlated() -> None:
    insns = asm.assemble(BPFTOOL_XLATED)
    assert insns[4] == I(LD_IMM64, 1, BPF_PSEUDO_MAP_FD, imm=518)
    assert insns[-2] == I(LD_IMM64, 2, BPF_PSEUDO_MAP_VALUE, imm=518)
    assert insns[7] == I(0x35, 0, 0, 3, 1)


OBJDUMP = """\

prog.o:\tfile format elf64-bpf

Disassembly of section socket:

0000000000000000 <prog>:
       0:\tb7 00 00 00 2a 00 00 00\tr0 = 0x2a
       1:\t18 01 00 00 89 67 45 23 00 00 00 00 01 00 00 00\tr1 = 0x123456789 ll
       3:\t18 02 00 00 01 00 00 00\tr2 = 1 ll
       4:\t00 00 00 00 00 00 00 00
       5:\t15 01 01 00 03 00 00 00\tif r1 == 0x3 goto +1 <LBB0_2>
       6:\tc3 31 00 00 40 00 00 00\t<unknown>

0000000000000038 <LBB0_2>:
       7:\t95 00 00 00 00 00 00 00\texit
"""


def test_pasted_llvm_objdump() -> None:
    insns = asm.assemble(OBJDUMP, syntax="llvm")
    assert insns == [
        I(0xB7, 0, imm=42),
        I(LD_IMM64, 1, imm=0x123456789),
        I(LD_IMM64, 2, imm=1),
        I(0x15, 1, 0, 1, 3),
        I(0xC3, 1, 3, 0, 0x40),
        I(0x95),
    ]


def test_comments_in_all_styles() -> None:
    text = """
        r0 = 1 ; kernel style
        r0 += 2 // C++ style
        r0 *= 3 # shell style
        # a whole comment line
        exit    # encoding: [0x95,0x00,0x00,0x00,0x00,0x00,0x00,0x00]
        .text
    """
    assert asm.assemble(text) == [I(0xB7, imm=1), I(0x07, imm=2), I(0x27, imm=3), I(0x95)]


def test_labels_forward_backward_and_calls() -> None:
    text = """
    entry:
        r1 = 0
    loop: r1 += 1
        if r1 < 10 goto loop
        if r1 == r2 goto done
        r0 = 0x10000000000   # two slots
        call sub
        r2 = subprog[sub]
        gotol done
    done:
        exit
    sub:
        r0 = 7
        exit
    """
    insns = asm.assemble(text)
    assert insns[2] == I(0xA5, 1, 0, -2, 10)  # loop is slot 1; this is slot 2
    assert insns[3] == I(0x1D, 1, 2, 6)  # slot 3 -> done at slot 10
    assert insns[5] == I(0x85, 0, BPF_PSEUDO_CALL, imm=4)  # slot 6 -> sub at 11
    assert insns[6] == I(LD_IMM64, 2, BPF_PSEUDO_FUNC, imm=3)  # slots 7-8 -> 11
    assert insns[7] == I(0x06, imm=0)  # slot 9 -> done at 10
    assert insns[3].target == "done"


def test_label_shadows_helper_for_call() -> None:
    insns = asm.assemble("call ktime_get_ns\nexit\nktime_get_ns:\nexit")
    assert insns[0] == I(0x85, 0, BPF_PSEUDO_CALL, imm=1)
    assert asm.assemble("call ktime_get_ns") == [I(0x85, imm=5)]


@dataclass
class FakeMap:
    fd: int
    name: str


def test_map_forms() -> None:
    m = FakeMap(4, "events")
    insns = asm.assemble(
        "r1 = map[events] ll\nr1 = map[events]\nr2 = map[events][0] + 8 ll\n"
        "r2 = map[events][0]+8\nr3 = map[events]+8\nr4 = map[idx:1]",
        {"events": m},
    )
    assert insns[0] == insns[1] == I(LD_IMM64, 1, BPF_PSEUDO_MAP_FD, imm=4)
    assert insns[2] == insns[3] == I(LD_IMM64, 2, BPF_PSEUDO_MAP_VALUE, imm=(8 << 32) | 4)
    assert insns[4] == I(LD_IMM64, 3, BPF_PSEUDO_MAP_VALUE, imm=(8 << 32) | 4)
    assert insns[0].map is m and insns[5].map is None
    assert asm.disassemble(insns[:3]) == "r1 = map[events]\nr1 = map[events]\nr2 = map[events][0]+8"


ERRORS = [
    ("r0 = 1\n  r0 +== 1\n", 2, 3, "cannot parse"),
    ("r11 = 1", 1, 1, "no register r11"),
    ("w1 += r2", 1, 1, "mixing r and w"),
    ("if w1 > r2 goto pc+1", 1, 1, "both registers"),
    ("goto nowhere", 1, 1, "unknown label"),
    ("a:\nexit\na:\nexit", 3, 1, "duplicate label"),
    ("r1 = map[nope] ll", 1, 1, "unknown map"),
    ("w1 = 0x1 ll", 1, 1, "needs an r register"),
    ("r1 += 0x100000000", 1, 1, "does not fit"),
    ("r1 = 0x10000000000000000", 1, 1, "64 bits"),
    ("call no_such_helper", 1, 1, "neither a label, a helper nor a kernel function"),
    ("r0 = *(s64 *)(r1 +0)", 1, 1, "bad access size"),
    ("lock *(u8 *)(r1 +0) += r2", 1, 1, "32 or 64 bits"),
    ("r1 = bswap24 r1", 1, 1, "16, 32 or 64"),
    ("r1 = -r2", 1, 1, "in place"),
    ("if r1 == 0 goto pc+40000", 1, 1, "16 signed bits"),
    ("  exit\n  .bogus 1", 2, 3, "cannot parse"),
]


@pytest.mark.parametrize(("text", "line", "col", "message"), ERRORS,
                         ids=[e[3] for e in ERRORS])
def test_errors_carry_line_col_and_text(text: str, line: int, col: int, message: str) -> None:
    with pytest.raises(AsmError) as info:
        asm.assemble(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert message in str(err)
    assert (err.line, err.col) == (line, col)
    assert err.text == text.splitlines()[line - 1]
    assert f"{line}:{col}:" in str(err) and "^" in str(err)


def test_jump_out_of_range_through_label() -> None:
    text = "if r1 == 0 goto far\n" + "r0 = 0\n" * 40000 + "far: exit"
    with pytest.raises(AsmError, match="use gotol") as info:
        asm.assemble(text)
    assert info.value.line == 1
    insns = asm.assemble(text.replace("if r1 == 0 goto far", "gotol far"))
    assert insns[0].imm == 40000


def test_unknown_syntax() -> None:
    with pytest.raises(AsmError, match="syntax"):
        asm.assemble("exit", syntax="intel")
    with pytest.raises(AsmError, match="syntax"):
        asm.disassemble([I(0x95)], "intel")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("rw0123456789 +-*=()[]<>:;#.xsulbgotpcifal&|^%/\n")),
               max_size=60))
def test_garbage_raises_only_asm_error(text: str) -> None:
    try:
        asm.assemble(text)
    except AsmError:
        pass


def _valid_lines() -> list[str]:
    from asm_cases import all_canonical

    cases = all_canonical()
    return asm.disassemble(cases).splitlines() + asm.disassemble(cases, "llvm").splitlines()


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(_valid_lines()), st.lists(st.tuples(
    st.integers(0, 80), st.sampled_from(list("rw019 +-*=()[]<>:;#.xsulbgp&|^%/@")),
    st.booleans()), min_size=1, max_size=3), st.sampled_from(["kernel", "llvm"]))
def test_mutated_lines_raise_only_asm_error(line: str, edits: list, syntax: str) -> None:
    chars = list(line)
    for pos, char, insert in edits:
        pos = min(pos, len(chars))
        if insert or pos == len(chars):
            chars.insert(pos, char)
        else:
            chars[pos] = char
    try:
        insns = asm.assemble("".join(chars), syntax=syntax)
    except AsmError:
        return
    assert asm.assemble(asm.disassemble(insns, syntax), syntax=syntax) == insns
