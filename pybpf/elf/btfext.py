"""The .BTF.ext section: per-section function info, line info and CO-RE relocations.

Layout (the kernel's btf.rst, "BTF.ext"): a header (magic 0xeB9F, version, flags, hdr_len,
then offset/length pairs for func_info, line_info and, when hdr_len allows, core_relo, all
relative to the end of the header). Each part is a u32 record size followed by blocks of
{u32 section name offset (in .BTF strings), u32 count, count records}. `insn_off` in the
object is in bytes from the start of the section.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from pybpf.btf import BTFError
from pybpf.elf.errors import ElfError

MAGIC = 0xEB9F
_HDR = struct.Struct("<HBBI")


@dataclass(frozen=True, slots=True)
class FuncInfo:
    insn_off: int  # bytes, in the section
    type_id: int


@dataclass(frozen=True, slots=True)
class LineInfo:
    insn_off: int
    file_name_off: int
    line_off: int
    line_col: int

    @property
    def line(self) -> int:
        return self.line_col >> 10

    @property
    def column(self) -> int:
        return self.line_col & 0x3FF


@dataclass(frozen=True, slots=True)
class CoreRelo:
    insn_off: int
    type_id: int
    access_str_off: int
    kind: int


@dataclass
class BTFExt:
    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)


def parse(path: str, data: bytes, string: Callable[[int], str]) -> BTFExt:
    """Parse .BTF.ext bytes; `string` resolves offsets into the .BTF string section."""
    if len(data) < 8:
        raise ElfError(path, "truncated header", ".BTF.ext")
    magic, version, _flags, hdr_len = _HDR.unpack_from(data)
    if magic != MAGIC:
        raise ElfError(path, f"bad magic {magic:#x}", ".BTF.ext")
    if version != 1:
        raise ElfError(path, f"unsupported version {version}", ".BTF.ext")
    if hdr_len > len(data):
        raise ElfError(path, f"header length {hdr_len} is past the end of the section "
                             f"({len(data)} bytes)", ".BTF.ext")
    ext = BTFExt()
    parts: list[tuple[str, dict, Callable[..., object], int]] = [
        ("func_info", ext.func_info, FuncInfo, 2), ("line_info", ext.line_info, LineInfo, 4),
        ("core_relo", ext.core_relos, CoreRelo, 4)]
    # the header holds as many (offset, length) pairs as hdr_len has room for, at most 3
    pairs = [struct.unpack_from("<II", data, 8 + 8 * i)
             for i in range(min(len(parts), (hdr_len - 8) // 8))]
    for (off, length), (what, out, cls, words) in zip(pairs, parts, strict=False):
        if length:
            _blocks(path, what, data[hdr_len + off: hdr_len + off + length], string, out, cls,
                    words)
    return ext


def _blocks(path: str, what: str, data: bytes, string: Callable[[int], str], out: dict,
            cls: Callable[..., object], words: int) -> None:
    if len(data) < 4:
        raise ElfError(path, f"truncated {what} record size", ".BTF.ext")
    rec_size = struct.unpack_from("<I", data)[0]
    if rec_size < 4 * words:
        raise ElfError(path, f"{what} record size {rec_size} is too small", ".BTF.ext")
    pos = 4
    fmt = struct.Struct(f"<{words}I")
    while pos + 8 <= len(data):  # each block is at least 8 bytes: bounded by the data
        name_off, count = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + count * rec_size > len(data):
            raise ElfError(path, f"truncated {what} records", ".BTF.ext")
        recs = [cls(*fmt.unpack_from(data, pos + i * rec_size)) for i in range(count)]
        sec_name = _string(path, what, string, name_off)
        for rec in recs:
            if isinstance(rec, LineInfo):  # read when a verifier error is reported
                _string(path, what, string, rec.file_name_off)
                _string(path, what, string, rec.line_off)
            # offsets are in bytes in the object; a misaligned one would be rounded down
            # onto another instruction
            insn_off = rec.insn_off  # type: ignore[attr-defined]
            if insn_off % 8:
                raise ElfError(path, f"{what} record for section '{sec_name}' at offset "
                                     f"{insn_off:#x}: not a multiple of the 8-byte "
                                     "instruction size", ".BTF.ext")
        out.setdefault(sec_name, []).extend(recs)
        pos += count * rec_size


def _string(path: str, what: str, string: Callable[[int], str], off: int) -> str:
    try:
        return string(off)
    except BTFError as e:
        raise ElfError(path, f"{what}: {e}", ".BTF.ext") from None
