"""Exact round trips: bytes <-> Instruction <-> text, for every form of the ISA."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from asm_cases import all_canonical
from hypothesis import given
from hypothesis import strategies as st

from pybpf import asm
from pybpf.asm import AsmError, Instruction
from pybpf.asm.opcodes import BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, LD_IMM64

CANONICAL = all_canonical()
SYNTAXES = ["kernel", "llvm"]


def _id(insn: Instruction) -> str:
    return f"{insn.code:02x}-{insn.dst}-{insn.src}-{insn.off}-{insn.imm:x}"


def test_every_case_is_canonical() -> None:
    raw = [i for i in CANONICAL if asm.classify(i) is None]
    assert raw == []
    assert len(CANONICAL) > 800


def test_every_class_and_form_is_covered() -> None:
    classes = {i.code & 7 for i in CANONICAL}
    assert classes == set(range(8))
    forms = {asm.classify(i) for i in CANONICAL}
    assert forms == {
        "alu", "neg", "end", "bswap", "movsx", "addr_space_cast", "ld_imm64", "ld_abs",
        "ld_ind", "ldx", "ldsx", "st", "stx", "atomic", "load_acq", "store_rel", "ja",
        "gotol", "may_goto", "jcc", "call", "exit",
    }


def test_encode_decode_whole_program() -> None:
    data = asm.encode(CANONICAL)
    assert len(data) == 8 * sum(i.size for i in CANONICAL)
    assert asm.decode(data) == CANONICAL
    assert asm.encode(asm.decode(data)) == data


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("insn", CANONICAL, ids=_id)
def test_text_round_trip(insn: Instruction, syntax: str) -> None:
    text = asm.disassemble([insn], syntax)
    assert not text.startswith(".insn"), text
    assert asm.assemble(text, syntax=syntax) == [insn], text


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("prefix", [False, True])
def test_whole_program_text_round_trip(syntax: str, prefix: bool) -> None:
    text = asm.disassemble(CANONICAL, syntax, prefix=prefix)
    assert asm.assemble(text, syntax=syntax) == CANONICAL


@pytest.mark.parametrize("code", range(256))
def test_every_opcode_byte_round_trips(code: int) -> None:
    """All 256 opcode bytes with a few field patterns: canonical or raw, always exact."""
    for dst, src, off, imm in [(0, 0, 0, 0), (1, 2, 3, 4), (10, 0, -1, 16), (15, 15, 1, -1)]:
        insn = Instruction(code, dst, src, off, imm)
        assert asm.decode(asm.encode([insn])) == [insn]
        for syntax in SYNTAXES:
            text = asm.disassemble([insn], syntax)
            assert asm.assemble(text, syntax=syntax) == [insn], text


def _instructions() -> st.SearchStrategy[Instruction]:
    def build(code: int, dst: int, src: int, off: int, imm: int, wide: int) -> Instruction:
        return Instruction(code, dst, src, off, wide if code == LD_IMM64 else imm)

    return st.builds(
        build,
        st.integers(0, 255),
        st.integers(0, 15),
        st.integers(0, 15),
        st.integers(-(1 << 15), (1 << 15) - 1),
        st.integers(-(1 << 31), (1 << 31) - 1),
        st.integers(0, (1 << 64) - 1),
    )


@given(st.lists(_instructions(), max_size=12))
def test_random_instructions_round_trip(insns: list[Instruction]) -> None:
    data = asm.encode(insns)
    assert asm.decode(data) == insns
    assert asm.encode(asm.decode(data)) == data
    for syntax in SYNTAXES:
        assert asm.assemble(asm.disassemble(insns, syntax), syntax=syntax) == insns


SHORT_JUMPS = [asm.ja(k) for k in range(-3, 4)] + [asm.jeq(asm.R1, 0, k) for k in (-2, 2)] + [
    asm.gotol(-1), asm.call_local(1), asm.ld_func(asm.R2, 2)]


@given(st.lists(st.sampled_from(CANONICAL + SHORT_JUMPS * 20), max_size=20),
       st.booleans(), st.booleans())
def test_random_canonical_programs_round_trip(insns: list[Instruction], prefix: bool,
                                              labels: bool) -> None:
    for syntax in SYNTAXES:
        text = asm.disassemble(insns, syntax, prefix=prefix, labels=labels)
        assert asm.assemble(text, syntax=syntax) == insns


def test_disassemble_with_labels_uses_target_names() -> None:
    insns = asm.resolve([
        asm.label("top"), asm.mov(asm.R0, 0), asm.jeq(asm.R0, 1, "out"), asm.ja("top"),
        asm.call_local("sub"), asm.label("out"), asm.exit(), asm.label("sub"), asm.exit(),
    ])
    text = asm.disassemble(insns, labels=True)
    assert text.splitlines() == [
        "top:", "r0 = 0", "if r0 == 0x1 goto out", "goto top", "call sub", "out:", "exit",
        "sub:", "exit",
    ]
    assert asm.assemble(text) == insns
    # without names, labels are made up from slot numbers
    plain = asm.decode(asm.encode(insns))
    assert asm.disassemble(plain, labels=True).splitlines()[0] == "L0:"


@dataclass
class FakeMap:
    fd: int
    name: str


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_map_references_print_by_name(syntax: str) -> None:
    counts, cfg = FakeMap(7, "counts"), FakeMap(9, "cfg")
    insns = [
        asm.ld_map(asm.R1, counts),
        asm.ld_map_value(asm.R2, cfg, 8),
        asm.ld_map_value(asm.R3, cfg),
    ]
    assert insns[0] == Instruction(LD_IMM64, 1, BPF_PSEUDO_MAP_FD, imm=7)
    assert insns[1] == Instruction(LD_IMM64, 2, BPF_PSEUDO_MAP_VALUE, imm=(8 << 32) | 9)
    text = asm.disassemble(insns, syntax)
    assert "map[counts]" in text and "map[cfg][0]+8" in text
    back = asm.assemble(text, {"counts": counts, "cfg": cfg}, syntax=syntax)
    assert back == insns
    assert [i.map for i in back] == [counts, cfg, cfg]


def test_encode_takes_fd_from_map_at_encode_time() -> None:
    m = FakeMap(7, "m")
    insns = asm.assemble("r1 = map[m] ll\nr2 = map[m][0] + 4 ll", {"m": m})
    m.fd = 11
    decoded = asm.decode(asm.encode(insns))
    assert decoded[0].imm == 11
    assert decoded[1].imm == (4 << 32) | 11


def test_decode_errors() -> None:
    with pytest.raises(AsmError, match="whole number"):
        asm.decode(b"\0" * 12)
    with pytest.raises(AsmError, match="second half"):
        asm.decode(bytes([0x18]) + b"\0" * 7)
    with pytest.raises(AsmError, match="nonzero"):
        asm.decode(bytes([0x18]) + b"\0" * 7 + bytes([0x07]) + b"\0" * 7)


def test_instruction_normalises_and_compares_without_metadata() -> None:
    a = Instruction(0xB7, 0, 0, 0, 0xFFFF_FFFF)
    assert a.imm == -1
    assert Instruction(LD_IMM64, 1, imm=-1).imm == 0xFFFF_FFFF_FFFF_FFFF
    assert Instruction(0x05, off=2, target="x", loc=(1, 2)) == Instruction(0x05, off=2)
    assert Instruction(LD_IMM64).size == 2 and Instruction(0x95).size == 1
    with pytest.raises(AsmError):
        Instruction(0xB7, imm=1 << 32)
    with pytest.raises(AsmError):
        Instruction(0xB7, dst=16)
    with pytest.raises(AsmError):
        Instruction(0x05, off=1 << 15)
    assert hash(a) == hash(Instruction(0xB7, imm=-1))
