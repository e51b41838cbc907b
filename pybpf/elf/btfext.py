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
    pairs = [struct.unpack_from("<II", data, 8 + 8 * i) for i in range((hdr_len - 8) // 8)]
    ext = BTFExt()
    parts: list[tuple[dict, Callable[..., object], int]] = [
        (ext.func_info, FuncInfo, 2), (ext.line_info, LineInfo, 4),
        (ext.core_relos, CoreRelo, 4)]
    for (off, length), (out, cls, words) in zip(pairs, parts, strict=False):
        if length:
            _blocks(path, data[hdr_len + off: hdr_len + off + length], string, out, cls, words)
    return ext


def _blocks(path: str, data: bytes, string: Callable[[int], str], out: dict,
            cls: Callable[..., object], words: int) -> None:
    if len(data) < 4:
        raise ElfError(path, "truncated record size", ".BTF.ext")
    rec_size = struct.unpack_from("<I", data)[0]
    if rec_size < 4 * words:
        raise ElfError(path, f"record size {rec_size} is too small", ".BTF.ext")
    pos = 4
    fmt = struct.Struct(f"<{words}I")
    while pos + 8 <= len(data):
        name_off, count = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + count * rec_size > len(data):
            raise ElfError(path, "truncated records", ".BTF.ext")
        recs = [cls(*fmt.unpack_from(data, pos + i * rec_size)) for i in range(count)]
        out.setdefault(string(name_off), []).extend(recs)
        pos += count * rec_size
