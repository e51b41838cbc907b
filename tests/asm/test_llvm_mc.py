"""Cross-check encodings against LLVM (llvm-mc / llvm-objdump), for what LLVM 14 knows.

LLVM is a test reference only. LLVM 14's assembler lacks the cpu v4 instructions (movsx,
sdiv/smod, memsx, bswap, gotol), may_goto, load-acquire/store-release, and does not
parse `%=`, `&` jumps, stores of immediates, or the fetch/xchg/cmpxchg atomics: those are
checked against the ISA document in test_roundtrip and test_parse instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from asm_cases import all_canonical

from pybpf import asm
from pybpf.asm import Instruction
from pybpf.asm.opcodes import BPF_JSET, BPF_MOD, BPF_OP

LLVM_MC = shutil.which("llvm-mc")
LLVM_OBJDUMP = shutil.which("llvm-objdump")
pytestmark = pytest.mark.skipif(LLVM_MC is None, reason="llvm-mc is not installed")

LLVM14_FORMS = {"alu", "neg", "end", "ld_imm64", "ld_abs", "ld_ind", "ldx", "stx", "atomic",
                "ja", "jcc", "call", "exit"}


def llvm14_knows(insn: Instruction) -> bool:
    form = asm.classify(insn)
    if form not in LLVM14_FORMS:
        return False
    if form == "alu" and (insn.off or BPF_OP(insn.code) == BPF_MOD):
        return False
    if form == "jcc" and BPF_OP(insn.code) == BPF_JSET:
        return False
    if form == "atomic" and insn.imm & 0x01:  # BPF_FETCH, xchg, cmpxchg
        return False
    if form == "ld_imm64" and insn.src:
        return False
    if form == "ld_ind" and insn.imm:
        return False
    if form == "call" and insn.src:
        return False
    return True


CASES = [i for i in all_canonical() if llvm14_knows(i)]
ENCODING = re.compile(r"#\s*encoding:\s*\[([^\]]*)\]")


def llvm_encode(text: str) -> list[bytes]:
    out = subprocess.run(
        [LLVM_MC, "-triple", "bpf", "-mcpu=v3", "-show-encoding"],
        input=text, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0 and "error" not in out.stderr, out.stderr[:2000]
    return [bytes(int(b, 16) for b in m.group(1).split(",")) for m in ENCODING.finditer(out.stdout)]


def test_cases_cover_llvm14_forms() -> None:
    assert len(CASES) > 400
    assert {asm.classify(i) for i in CASES} == LLVM14_FORMS


def test_our_llvm_text_assembles_to_our_encoding_under_llvm_mc() -> None:
    text = asm.disassemble(CASES, "llvm")
    encodings = llvm_encode(text)
    assert len(encodings) == len(CASES)
    for insn, line, got in zip(CASES, text.splitlines(), encodings, strict=True):
        assert asm.encode([insn]) == got, line


def test_llvm_mc_output_parses_back() -> None:
    """llvm-mc echoes its input in its own canonical spelling; that must parse too."""
    out = subprocess.run(
        [LLVM_MC, "-triple", "bpf", "-mcpu=v3", "-show-encoding"],
        input=asm.disassemble(CASES, "llvm"), capture_output=True, text=True, check=True,
    ).stdout
    assert asm.assemble(out, syntax="llvm") == CASES


def objdump(text: str, tmp_path: Path, *flags: str) -> str:
    src, obj = tmp_path / "t.s", tmp_path / "t.o"
    src.write_text(text + "\n")
    subprocess.run([LLVM_MC, "-triple", "bpf", "-mcpu=v3", "-filetype=obj", str(src), "-o",
                    str(obj)], check=True)
    return subprocess.run([LLVM_OBJDUMP, "-d", *flags, str(obj)], capture_output=True,
                          text=True, check=True).stdout


def dump_bytes(dump: str) -> bytes:
    hexes = re.findall(r"^\s*\d+:\s+((?:[0-9a-f]{2} )*[0-9a-f]{2})", dump, re.M)
    return bytes.fromhex("".join(h.replace(" ", "") for h in hexes))


def llvm_object_bytes(text: str, tmp_path: Path) -> bytes:
    return dump_bytes(objdump(text, tmp_path))


@pytest.mark.skipif(LLVM_OBJDUMP is None, reason="llvm-objdump is not installed")
@pytest.mark.parametrize("flags", [(), ("--mattr=+alu32",)])
def test_llvm_objdump_output_pastes_in(tmp_path: Path, flags: tuple[str, ...]) -> None:
    """Without +alu32, LLVM 14's objdump prints `<unknown>` for 32-bit atomics: the
    parser then takes the printed bytes."""
    dump = objdump(asm.disassemble(CASES, "llvm"), tmp_path, *flags)
    assert asm.assemble(dump, syntax="llvm") == CASES
    assert dump_bytes(dump) == asm.encode(CASES)


@pytest.mark.skipif(LLVM_OBJDUMP is None, reason="llvm-objdump is not installed")
def test_hand_written_llvm_program_matches_llvm_mc(tmp_path: Path) -> None:
    text = """
        r6 = r1
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r2 = r10
        r2 += -8
        r1 = 0x123456789 ll
        call 1
        if r0 == 0 goto LBB0_2
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        w1 = 7
        lock *(u32 *)(r0 + 8) += w1
        w0 = *(u32 *)(r6 + 4)
        r0 = be16 r0
    LBB0_2:
        r0 = 0
        exit
    """
    ours = asm.assemble(text, syntax="llvm")
    assert asm.encode(ours) == llvm_object_bytes(text, tmp_path)
