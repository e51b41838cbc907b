"""The raw BTF format: header, kind numbers and record layout.

Follows the kernel's ``include/uapi/linux/btf.h``: a 24-byte (or longer) header, a type
section of variable-length records and a string section of NUL-terminated names. Every
record starts with three u32 words (``name_off``, ``info``, ``size``/``type``); ``info``
holds vlen in bits 0-15, the kind in bits 24-28 and ``kind_flag`` in bit 31. Some kinds are
followed by extra words, per record or per vlen item.
"""

from __future__ import annotations

import struct

from pybpf.btf.errors import BTFError

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
HEADER = struct.Struct("<HBBIIIII")  # magic, version, flags, hdr_len, type/str off+len

KIND_UNKN = 0
KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_VAR = 14
KIND_DATASEC = 15
KIND_FLOAT = 16
KIND_DECL_TAG = 17
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19
KIND_MAX = KIND_ENUM64

#: Python-side names of the kinds, indexed by kind number (0 is "void").
KIND_NAMES: tuple[str, ...] = (
    "void", "int", "ptr", "array", "struct", "union", "enum", "fwd", "typedef",
    "volatile", "const", "restrict", "func", "func_proto", "var", "datasec", "float",
    "decl_tag", "type_tag", "enum64",
)  # fmt: skip
KIND_BY_NAME: dict[str, int] = {n: i for i, n in enumerate(KIND_NAMES)}

#: Words that follow the 3-word common header, once per record.
EXTRA_WORDS: tuple[int, ...] = (
    0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0,
)  # fmt: skip
#: Words that follow the record per vlen item (members, enum values, params, secinfos).
VLEN_WORDS: tuple[int, ...] = (
    0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3,
)  # fmt: skip

INT_SIGNED = 1
INT_CHAR = 2
INT_BOOL = 4

FUNC_LINKAGE = ("static", "global", "extern")
VAR_LINKAGE = ("static", "global", "extern")

MAX_TYPE_ID = 0x000FFFFF


def info_kind(info: int) -> int:
    return (info >> 24) & 0x1F


def info_vlen(info: int) -> int:
    return info & 0xFFFF


def info_kflag(info: int) -> bool:
    return bool(info >> 31)


def record_words(info: int) -> int:
    """Length in u32 words of a record whose ``info`` word is ``info``."""
    kind = (info >> 24) & 0x1F
    if kind == KIND_UNKN or kind > KIND_MAX:
        raise BTFError(f"unknown BTF kind {kind}")
    return 3 + EXTRA_WORDS[kind] + (info & 0xFFFF) * VLEN_WORDS[kind]


class Header:
    """The parsed and checked BTF header: absolute byte ranges of the two sections."""

    __slots__ = ("flags", "hdr_len", "type_start", "type_len", "str_start", "str_len")

    def __init__(self, data: bytes | memoryview, *, split: bool = False) -> None:
        size = len(data)
        if size < HEADER.size:
            raise BTFError(f"BTF data is truncated: {size} bytes, the header alone needs {HEADER.size}")
        magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = HEADER.unpack_from(data)
        if magic == 0x9FEB:
            raise BTFError("BTF data is big-endian; only little-endian BTF is supported")
        if magic != BTF_MAGIC:
            raise BTFError(f"not BTF data: bad magic 0x{magic:04x} (expected 0x{BTF_MAGIC:04x})")
        if version != BTF_VERSION:
            raise BTFError(f"unsupported BTF version {version} (expected {BTF_VERSION})")
        if hdr_len < HEADER.size or hdr_len > size:
            raise BTFError(f"bad BTF header length {hdr_len} (data is {size} bytes)")
        self.flags = flags
        self.hdr_len = hdr_len
        self.type_start = hdr_len + type_off
        self.type_len = type_len
        self.str_start = hdr_len + str_off
        self.str_len = str_len
        for what, start, length in (("type", self.type_start, type_len), ("string", self.str_start, str_len)):
            if start + length > size:
                raise BTFError(
                    f"BTF {what} section (offset {start - hdr_len}, length {length}) runs past "
                    f"the end of the data ({size} bytes): truncated?"
                )
        if type_off % 4 or type_len % 4:
            raise BTFError(f"BTF type section is not 4-byte aligned (offset {type_off}, length {type_len})")
        if self.type_start < self.str_start + str_len and self.str_start < self.type_start + type_len:
            raise BTFError("BTF type and string sections overlap")
        if str_len:
            if data[self.str_start + str_len - 1] != 0:
                raise BTFError("BTF string section does not end with a NUL byte")
            if not split and data[self.str_start] != 0:
                raise BTFError("BTF string section does not start with the empty string")
        elif not split:
            raise BTFError("BTF string section is empty")
