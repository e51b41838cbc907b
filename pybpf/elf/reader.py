"""Reading a clang-built BPF object file: sections, symbols and relocations (pyelftools).

The result is plain data: nothing here knows about maps or programs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from pybpf.elf.errors import ElfError

EM_BPF = 247
R_BPF_64_64 = 1  # ld_imm64: map, global data, extern, function address
R_BPF_64_ABS64 = 2
R_BPF_64_ABS32 = 3
R_BPF_64_NODYLD32 = 4
R_BPF_64_32 = 10  # call: bpf-to-bpf

SHN_UNDEF = 0


@dataclass(slots=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: str  # STT_FUNC, STT_OBJECT, STT_SECTION, STT_NOTYPE, ...
    bind: str  # STB_GLOBAL, STB_LOCAL, STB_WEAK
    shndx: int  # 0: undefined (an extern)


@dataclass(slots=True)
class Reloc:
    offset: int  # byte offset in the section it applies to
    symbol: Symbol
    type: int


@dataclass(slots=True)
class Section:
    index: int
    name: str
    data: bytes
    size: int
    flags: int
    type: str
    relocs: list[Reloc] = field(default_factory=list)

    @property
    def executable(self) -> bool:
        return bool(self.flags & SH_FLAGS.SHF_EXECINSTR)

    @property
    def allocated(self) -> bool:
        return bool(self.flags & SH_FLAGS.SHF_ALLOC)

    @property
    def writable(self) -> bool:
        return bool(self.flags & SH_FLAGS.SHF_WRITE)

    @property
    def nobits(self) -> bool:
        return self.type == "SHT_NOBITS"


@dataclass
class ElfObject:
    path: str
    sections: dict[int, Section]
    symbols: list[Symbol]

    def section(self, name: str) -> Section | None:
        for s in self.sections.values():
            if s.name == name:
                return s
        return None

    def symbols_in(self, shndx: int, types: tuple[str, ...] = ()) -> list[Symbol]:
        return sorted((s for s in self.symbols if s.shndx == shndx and s.name
                       and (not types or s.type in types)), key=lambda s: s.value)


def read(path: str, data: bytes | None = None) -> ElfObject:
    """Parse the object file at `path` (or its bytes `data`)."""
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ElfError(path, f"cannot read: {e.strerror}", errno=e.errno or 0) from None
    if data[:4] != b"\x7fELF":
        raise ElfError(path, "not an ELF file (a clang -target bpf object was expected)")
    try:
        elf = ELFFile(io.BytesIO(data))
        if elf["e_machine"] not in ("EM_BPF", EM_BPF):
            raise ElfError(path, f"not a BPF object: machine {elf['e_machine']} (build it "
                                 "with clang -target bpf)")
        if not elf.little_endian:
            raise ElfError(path, "big-endian BPF objects are not supported")
        return _parse(path, elf)
    except ELFError as e:
        raise ElfError(path, f"malformed ELF file: {e}") from None


def _parse(path: str, elf: ELFFile) -> ElfObject:
    sections: dict[int, Section] = {}
    symtab: SymbolTableSection | None = None
    for i, sec in enumerate(elf.iter_sections()):
        if isinstance(sec, SymbolTableSection) and sec["sh_type"] == "SHT_SYMTAB":
            symtab = sec
        nobits = sec["sh_type"] == "SHT_NOBITS"
        sections[i] = Section(i, sec.name, b"" if nobits else sec.data(), sec["sh_size"],
                              sec["sh_flags"], sec["sh_type"])
    if symtab is None:
        raise ElfError(path, "no symbol table (was the object stripped?)")
    symbols = []
    for i, s in enumerate(symtab.iter_symbols()):
        shndx = s["st_shndx"]
        if not isinstance(shndx, int):
            shndx = SHN_UNDEF if shndx == "SHN_UNDEF" else -1  # SHN_ABS, SHN_COMMON
        symbols.append(Symbol(i, s.name, s["st_value"], s["st_size"], s["st_info"]["type"],
                              s["st_info"]["bind"], shndx))
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection):
            continue
        target = sections.get(sec["sh_info"])
        if target is None or not target.executable:
            continue  # debug info and BTF relocations are not needed
        for r in sec.iter_relocations():
            target.relocs.append(Reloc(r["r_offset"], symbols[r["r_info_sym"]],
                                       r["r_info_type"]))
    return ElfObject(path, sections, symbols)
