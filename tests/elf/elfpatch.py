"""Damaging a built `.bpf.o` on purpose: the file offsets of its section headers, symbols,
relocation records and instructions (found with pyelftools), and byte patches at them."""

from __future__ import annotations

import io
import struct

from elftools.elf.elffile import ELFFile

_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")  # st_name, st_info, st_other, st_shndx, st_value, st_size
_REL = struct.Struct("<QQ")  # r_offset, r_info (symbol << 32 | type)


def _elf(data: bytes | bytearray) -> ELFFile:
    return ELFFile(io.BytesIO(bytes(data)))


def section_index(data: bytes | bytearray, name: str) -> int:
    elf = _elf(data)
    for i, sec in enumerate(elf.iter_sections()):
        if sec.name == name:
            return i
    raise KeyError(name)


def section_header_at(data: bytes | bytearray, name: str) -> int:
    """File offset of the section header of `name`."""
    elf = _elf(data)
    return elf["e_shoff"] + section_index(data, name) * elf["e_shentsize"]


def section_offset(data: bytes | bytearray, name: str) -> int:
    """File offset of the first byte of section `name`."""
    return _elf(data).get_section_by_name(name)["sh_offset"]


def set_section_size(data: bytearray, name: str, size: int) -> None:
    at = section_header_at(data, name)
    fields = list(_SHDR.unpack_from(data, at))
    fields[5] = size
    _SHDR.pack_into(data, at, *fields)


def symbol_index(data: bytes | bytearray, name: str) -> int:
    symtab = _elf(data).get_section_by_name(".symtab")
    for i, s in enumerate(symtab.iter_symbols()):
        if s.name == name:
            return i
    raise KeyError(name)


def set_symbol(data: bytearray, name: str | int, *, shndx: int | None = None,
               value: int | None = None, size: int | None = None) -> None:
    """Change the symbol called `name` (or of index `name`: section symbols have no name)."""
    index = name if isinstance(name, int) else symbol_index(data, name)
    at = section_offset(data, ".symtab") + index * _SYM.size
    st_name, info, other, old_shndx, old_value, old_size = _SYM.unpack_from(data, at)
    _SYM.pack_into(data, at, st_name, info, other, old_shndx if shndx is None else shndx,
                   old_value if value is None else value, old_size if size is None else size)


def relocation_at(data: bytes | bytearray, rel_section: str, offset: int) -> int:
    """File offset of the record of `rel_section` that relocates byte `offset`."""
    base = section_offset(data, rel_section)
    sec = _elf(data).get_section_by_name(rel_section)
    for i in range(sec["sh_size"] // _REL.size):
        if _REL.unpack_from(data, base + i * _REL.size)[0] == offset:
            return base + i * _REL.size
    raise KeyError(f"{rel_section}: no relocation at {offset:#x}")


def relocation_symbol(data: bytes | bytearray, rel_section: str, offset: int) -> int:
    """The symbol index of the record of `rel_section` that relocates byte `offset`."""
    return _REL.unpack_from(data, relocation_at(data, rel_section, offset))[1] >> 32


def set_relocation(data: bytearray, rel_section: str, offset: int, *,
                   new_offset: int | None = None, symbol: int | None = None,
                   type: int | None = None) -> None:
    at = relocation_at(data, rel_section, offset)
    r_offset, info = _REL.unpack_from(data, at)
    sym, typ = info >> 32, info & 0xFFFFFFFF
    _REL.pack_into(data, at, r_offset if new_offset is None else new_offset,
                   ((sym if symbol is None else symbol) << 32) | (typ if type is None else type))


def instruction_at(data: bytes | bytearray, section: str, offset: int) -> int:
    """File offset of the instruction at byte `offset` of code section `section`."""
    return section_offset(data, section) + offset


def regions(data: bytes | bytearray) -> list[tuple[int, int]]:
    """The byte ranges a loader reads: the ELF header, the section header table and every
    section but DWARF (which it skips), for damage that lands where it matters."""
    elf = _elf(data)
    out = [(0, 64), (elf["e_shoff"], elf["e_shoff"] + elf["e_shnum"] * elf["e_shentsize"])]
    for sec in elf.iter_sections():
        if sec.name.startswith(".debug") or sec["sh_type"] in ("SHT_NOBITS", "SHT_NULL"):
            continue
        if sec["sh_size"]:
            out.append((sec["sh_offset"], sec["sh_offset"] + sec["sh_size"]))
    return out
