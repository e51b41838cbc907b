"""Reading a clang-built BPF object file: sections, symbols and relocations (pyelftools).

The result is plain data: nothing here knows about maps or programs. Before pyelftools walks
the file, the section header table and every section are checked to lie inside the data, so
that a damaged header cannot make it read (or loop over) more than the file holds; the
relocation records of program sections are then checked by `pybpf.elf.validate`.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from pybpf.elf.errors import ElfError

EM_BPF = 247
ET_REL = 1
ELFCLASS64 = 2
R_BPF_64_64 = 1  # ld_imm64: map, global data, extern, function address
R_BPF_64_ABS64 = 2  # data sections (.BTF, .maps, DWARF), never instructions
R_BPF_64_ABS32 = 3
R_BPF_64_NODYLD32 = 4
R_BPF_64_32 = 10  # call: bpf-to-bpf
RELOC_TYPE_NAMES = {R_BPF_64_64: "R_BPF_64_64", R_BPF_64_ABS64: "R_BPF_64_ABS64",
                    R_BPF_64_ABS32: "R_BPF_64_ABS32", R_BPF_64_NODYLD32: "R_BPF_64_NODYLD32",
                    R_BPF_64_32: "R_BPF_64_32"}

SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00  # from here on, st_shndx is a special value, not a section index
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
SHN_XINDEX = 0xFFFF
# pyelftools names the special indexes; the loader compares numbers, so they are mapped back
_SHN_BY_NAME = {"SHN_UNDEF": SHN_UNDEF, "SHN_ABS": SHN_ABS, "SHN_COMMON": SHN_COMMON,
                "SHN_XINDEX": SHN_XINDEX}

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR_SIZE = 64
_SYM_SIZE = 24
_REL_SIZE = 16
_SHT_NULL, _SHT_SYMTAB, _SHT_RELA, _SHT_NOBITS, _SHT_REL = 0, 2, 4, 8, 9


@dataclass(slots=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: str  # STT_FUNC, STT_OBJECT, STT_SECTION, STT_NOTYPE, ...
    bind: str  # STB_GLOBAL, STB_LOCAL, STB_WEAK
    shndx: int  # the raw st_shndx: 0 undefined (an extern), >= SHN_LORESERVE special

    @property
    def special(self) -> bool:
        """SHN_ABS, SHN_COMMON and the other reserved indexes: not in any section."""
        return self.shndx >= SHN_LORESERVE


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
    reloc_section: str = ""  # the name of the SHT_REL section the relocs came from

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
        _check_layout(path, data)
        obj = _parse(path, elf, data)
    except ELFError as e:
        raise ElfError(path, f"malformed ELF file: {e}") from None
    from pybpf.elf import validate

    validate.check(obj)
    return obj


def _check_layout(path: str, data: bytes) -> None:
    """The checks libbpf (and libelf) make before trusting the section header table: a
    64-bit relocatable object whose section headers, and each section's bytes, are inside
    the file. Every later loop over sections, symbols or relocations is then bounded by the
    file's size."""
    if len(data) < _EHDR.size:
        raise ElfError(path, f"truncated ELF header ({len(data)} bytes)")
    (ident, e_type, _machine, _version, _entry, _phoff, shoff, _flags, _ehsize, _phentsize,
     _phnum, shentsize, shnum, shstrndx) = _EHDR.unpack_from(data)
    if ident[4] != ELFCLASS64:
        raise ElfError(path, "not a 64-bit ELF file (BPF objects are ELFCLASS64)")
    if e_type != ET_REL:
        raise ElfError(path, f"ELF type {e_type} is not a relocatable object (ET_REL: "
                             "build with clang -c)")
    if shentsize != _SHDR_SIZE:
        raise ElfError(path, f"section header size {shentsize}, not {_SHDR_SIZE}")
    if shnum == 0 or shnum >= SHN_LORESERVE:
        # 0 means the count is in section 0 (extended numbering): clang never writes that
        raise ElfError(path, f"section count {shnum} is not supported")
    if shoff + shnum * _SHDR_SIZE > len(data):
        raise ElfError(path, f"the section header table ({shnum} headers at offset "
                             f"{shoff:#x}) extends past the end of the file ({len(data)} "
                             "bytes): truncated?")
    if shstrndx >= shnum:
        raise ElfError(path, f"section name table index {shstrndx} is not one of the "
                             f"{shnum} sections")
    symtabs = 0
    for i in range(shnum):
        (_name, sh_type, _sflags, _addr, off, size, link, info, _align,
         entsize) = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * _SHDR_SIZE)
        if sh_type not in (_SHT_NULL, _SHT_NOBITS) and off + size > len(data):
            raise ElfError(path, f"section #{i} ({size} bytes at offset {off:#x}) extends "
                                 f"past the end of the file ({len(data)} bytes): truncated?")
        if sh_type == _SHT_SYMTAB:
            symtabs += 1
            if entsize != _SYM_SIZE or size % _SYM_SIZE or link >= shnum:
                raise ElfError(path, f"symbol table (section #{i}) has entry size {entsize}, "
                                     f"size {size} and string table #{link}")
        elif sh_type in (_SHT_REL, _SHT_RELA) and info >= shnum:
            raise ElfError(path, f"relocation section #{i} applies to section #{info}, "
                                 f"which does not exist")
        elif sh_type == _SHT_REL and (entsize != _REL_SIZE or size % _REL_SIZE):
            raise ElfError(path, f"relocation section #{i} has entry size {entsize} and "
                                 f"size {size} (Elf64_Rel records are {_REL_SIZE} bytes)")
    if symtabs > 1:
        raise ElfError(path, f"{symtabs} symbol tables (an object has one)")


def _shndx(raw: int | str) -> int:
    if isinstance(raw, int):
        return raw
    return _SHN_BY_NAME.get(raw, SHN_XINDEX)


def _parse(path: str, elf: ELFFile, data: bytes) -> ElfObject:
    sections: dict[int, Section] = {}
    symtab: SymbolTableSection | None = None
    for i, sec in enumerate(elf.iter_sections()):
        if isinstance(sec, SymbolTableSection) and sec["sh_type"] == "SHT_SYMTAB":
            symtab = sec
        nobits = sec["sh_type"] in ("SHT_NOBITS", "SHT_NULL")
        # the raw bytes, not sec.data(): pyelftools would decompress SHF_COMPRESSED sections
        # (clang -gz compresses DWARF, which is never read; BTF and code never are)
        off, size = sec["sh_offset"], sec["sh_size"]
        raw = b"" if nobits else data[off:off + size]
        if sec["sh_flags"] & SH_FLAGS.SHF_COMPRESSED and (
                sec["sh_flags"] & (SH_FLAGS.SHF_ALLOC | SH_FLAGS.SHF_EXECINSTR)
                or sec.name in (".BTF", ".BTF.ext")):
            raise ElfError(path, "compressed section (SHF_COMPRESSED): BPF code, data and "
                                 "BTF cannot be compressed", sec.name)
        sections[i] = Section(i, sec.name, raw, size, sec["sh_flags"], sec["sh_type"])
    if symtab is None:
        raise ElfError(path, "no symbol table (was the object stripped?)")
    symbols = []
    for i, s in enumerate(symtab.iter_symbols()):
        symbols.append(Symbol(i, s.name, s["st_value"], s["st_size"], s["st_info"]["type"],
                              s["st_info"]["bind"], _shndx(s["st_shndx"])))
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection):
            continue
        target = sections[sec["sh_info"]]  # in range: _check_layout
        if not target.executable:
            continue  # debug info and BTF relocations are not needed (libbpf skips them too)
        if sec["sh_type"] != "SHT_REL":
            # BPF uses SHT_REL only; the addends of SHT_RELA records would be ignored here
            raise ElfError(path, f"relocation section '{sec.name}' is {sec['sh_type']}; BPF "
                                 "objects use SHT_REL", target.name)
        if target.reloc_section:
            raise ElfError(path, f"a second relocation section ('{sec.name}', after "
                                 f"'{target.reloc_section}')", target.name)
        target.reloc_section = sec.name
        for r in sec.iter_relocations():
            offset, sym_index = r["r_offset"], r["r_info_sym"]
            if not 0 < sym_index < len(symbols):
                raise ElfError(path, f"relocation at offset {offset:#x} refers to symbol "
                                     f"#{sym_index}, but the symbol table has symbols 1 to "
                                     f"{len(symbols) - 1}", target.name)
            target.relocs.append(Reloc(offset, symbols[sym_index], r["r_info_type"]))
    return ElfObject(path, sections, symbols)
