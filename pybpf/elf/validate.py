"""Refusing a damaged object before anything relies on it: the checks libbpf makes when it
collects programs and relocations (bpf_object__add_programs, bpf_object__collect_prog_relos,
bpf_program__record_reloc), so that a flipped bit is an error rather than a program that
loads with another meaning.

Program sections hold whole 8-byte instructions, and their function symbols lie inside them
on instruction boundaries. Each relocation of a program section:

- is at an instruction boundary inside the section, and the only one for that instruction;
- is R_BPF_64_64 (an ld_imm64: map, global data, extern or function address) or R_BPF_64_32
  (a call); the other BPF types are for data sections (.BTF, .maps, DWARF);
- refers to a symbol of the symbol table (not the null symbol 0) that is undefined (an
  extern) or in one of the object's sections: SHN_ABS and SHN_COMMON symbols are no map,
  variable or function;
- sits on the instruction its type is for: R_BPF_64_64 on a whole ld_imm64, R_BPF_64_32 on a
  call, which is a bpf-to-bpf call (src_reg BPF_PSEUDO_CALL) unless its target is an extern;
  a call or function address points at an instruction boundary of a code section.

Which map, variable or extern an ld_imm64 names is settled when the program is linked.
"""

from __future__ import annotations

from pybpf.elf import insns as I
from pybpf.elf.errors import ElfError
from pybpf.elf.reader import (
    R_BPF_64_32,
    R_BPF_64_64,
    RELOC_TYPE_NAMES,
    SHN_ABS,
    SHN_COMMON,
    SHN_LORESERVE,
    SHN_UNDEF,
    ElfObject,
    Reloc,
    Section,
)

INSN_SIZE = 8


def check(obj: ElfObject) -> None:
    """Raise an ElfError naming the section and offset of the first thing found wrong."""
    for sec in obj.sections.values():
        if sec.executable and sec.nobits:
            raise ElfError(obj.path, "code section without contents (SHT_NOBITS)", sec.name)
        if sec.executable and sec.size % INSN_SIZE:
            raise ElfError(obj.path, f"code section of {sec.size} bytes is not a whole "
                                     f"number of {INSN_SIZE}-byte instructions", sec.name)
    for s in obj.symbols:
        sec = obj.sections.get(s.shndx) if s.type == "STT_FUNC" and s.shndx else None
        # the linker takes a function of size 0 as one instruction
        if sec is not None and sec.executable and (
                s.value % INSN_SIZE or s.size % INSN_SIZE
                or s.value + max(s.size, INSN_SIZE) > sec.size):
            raise ElfError(obj.path, f"function '{s.name}' ({s.size} bytes at offset "
                                     f"{s.value:#x}) is not whole instructions inside the "
                                     f"section's {sec.size} bytes", sec.name)
    for sec in obj.sections.values():
        if sec.executable:
            seen: set[int] = set()
            for r in sec.relocs:
                _check_reloc(obj, sec, r, seen)


def _target_name(obj: ElfObject, r: Reloc) -> str:
    sym = r.symbol
    if sym.type == "STT_SECTION" and not sym.name and sym.shndx in obj.sections:
        return obj.sections[sym.shndx].name  # static functions and variables: their section
    return sym.name or f"symbol #{sym.index}"


def _check_reloc(obj: ElfObject, sec: Section, r: Reloc, seen: set[int]) -> None:
    name = _target_name(obj, r)

    def refuse(what: str) -> ElfError:
        return ElfError(obj.path, f"relocation at offset {r.offset:#x} against '{name}': "
                                  f"{what}", sec.name)

    if r.offset % INSN_SIZE:
        raise refuse(f"the offset is not a multiple of the {INSN_SIZE}-byte instruction size")
    if r.offset >= sec.size:
        raise refuse(f"the offset is past the end of the section ({sec.size} bytes)")
    if r.offset in seen:
        raise refuse("a second relocation of the same instruction")
    seen.add(r.offset)
    if r.type not in (R_BPF_64_64, R_BPF_64_32):
        if r.type in RELOC_TYPE_NAMES:
            raise refuse(f"type {RELOC_TYPE_NAMES[r.type]} is for data sections, not "
                         "instructions")
        raise refuse(f"unknown relocation type {r.type}")
    sym = r.symbol
    if sym.shndx == SHN_ABS:
        raise refuse("the symbol is absolute (SHN_ABS): no map, variable or function")
    if sym.shndx == SHN_COMMON:
        raise refuse("the symbol is a common symbol (SHN_COMMON): build with -fno-common")
    if sym.shndx >= SHN_LORESERVE:
        raise refuse(f"the symbol has the special section index {sym.shndx:#x}")
    if sym.shndx not in obj.sections:
        raise refuse(f"the symbol is in section #{sym.shndx}, which does not exist")
    slot = r.offset // INSN_SIZE
    code, _, src, _, imm = I.get(bytearray(sec.data[r.offset:r.offset + INSN_SIZE]), 0)
    type_name = RELOC_TYPE_NAMES[r.type]
    extern = sym.shndx == SHN_UNDEF
    target = obj.sections[sym.shndx]
    if code == I.CALL:
        if r.type != R_BPF_64_32:
            raise refuse(f"{type_name} on a call instruction (calls take R_BPF_64_32)")
        if extern:
            return  # a kfunc: resolved, or refused, when the program is linked
        if src != I.PSEUDO_CALL:
            raise refuse(f"the call at instruction {slot} is not a bpf-to-bpf call (src_reg "
                         f"{src}, not BPF_PSEUDO_CALL {I.PSEUDO_CALL})")
        if not target.executable:
            raise refuse(f"a call into section '{target.name}', which is not code")
        if sym.value % INSN_SIZE:
            raise refuse(f"a call to offset {sym.value:#x}, which is not an instruction "
                         "boundary")
        return
    if code == I.LD_IMM64:
        if r.type != R_BPF_64_64:
            raise refuse(f"{type_name} on an ld_imm64 instruction (they take R_BPF_64_64)")
        if r.offset + 2 * INSN_SIZE > sec.size:
            raise refuse("the ld_imm64 instruction is cut off by the end of the section")
        if not extern and target.executable and (sym.value % INSN_SIZE or imm % INSN_SIZE):
            raise refuse(f"the address of offset {sym.value:#x}{imm:+d} in '{target.name}', "
                         "which is not an instruction boundary")
        return
    raise refuse(f"instruction {slot} (code {code:#04x}) is neither an ld_imm64 nor a call")
