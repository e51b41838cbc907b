"""Build raw BTF: :class:`BTFBuilder` encodes types (for our own maps and programs, tests).

Every ``add_*`` method appends one record and returns its type id. ``encode()`` returns
bytes in the kernel's format; with a ``base`` they form split BTF on top of it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from pybpf.btf import format as fmt
from pybpf.btf.errors import BTFError

if TYPE_CHECKING:
    from pybpf.btf.btf import BTF

_LINKAGE = {"static": 0, "global": 1, "extern": 2}


def _info(kind: int, vlen: int = 0, kflag: bool = False) -> int:
    if not 0 <= vlen <= 0xFFFF:
        raise BTFError(f"vlen {vlen} does not fit in 16 bits")
    return (int(kflag) << 31) | (kind << 24) | vlen


class BTFBuilder:
    """Accumulates type records and strings; ``encode()`` gives raw BTF bytes."""

    def __init__(self, base: BTF | None = None) -> None:
        self.base = base
        self.first_id = base.nr_types if base is not None else 1
        self._str_base = base._str_end if base is not None else 0
        self._strings = bytearray(b"\0")
        self._string_offsets: dict[str, int] = {"": 0}
        self._records: list[list[int]] = []

    @property
    def next_id(self) -> int:
        return self.first_id + len(self._records)

    def string(self, text: str) -> int:
        """Offset of ``text`` in the string section (added once)."""
        if not text:
            return 0
        off = self._string_offsets.get(text)
        if off is None:
            off = self._string_offsets[text] = self._str_base + len(self._strings)
            self._strings += text.encode() + b"\0"
        return off

    def add_raw(self, words: Iterable[int]) -> int:
        """Append a record given as raw u32 words (no checks); returns its id."""
        self._records.append([w & 0xFFFFFFFF for w in words])
        return self.next_id - 1

    def reserve(self) -> int:
        """An id for a type defined later with :meth:`define` (a struct whose members point
        back to it, or to a struct declared after it)."""
        return self.add_raw([0, 0, 0])

    def define(self, tid: int, record_id: int) -> None:
        """Move the last-added record `record_id` into the reserved id `tid`."""
        if record_id != self.next_id - 1 or not self.first_id <= tid < record_id:
            raise BTFError(f"cannot define type {tid} with record {record_id}")
        self._records[tid - self.first_id] = self._records.pop()

    def _add(self, name: str, info: int, size_or_type: int, *extra: int) -> int:
        return self.add_raw([self.string(name), info, size_or_type, *extra])

    def add_int(self, name: str, size: int, *, signed: bool = False, char: bool = False,
                bool_: bool = False, bits: int | None = None, bit_offset: int = 0) -> int:  # fmt: skip
        enc = (fmt.INT_SIGNED if signed else 0) | (fmt.INT_CHAR if char else 0) | (fmt.INT_BOOL if bool_ else 0)
        nbits = size * 8 if bits is None else bits
        return self._add(name, _info(fmt.KIND_INT), size, (enc << 24) | (bit_offset << 16) | nbits)

    def add_float(self, name: str, size: int) -> int:
        return self._add(name, _info(fmt.KIND_FLOAT), size)

    def add_ptr(self, target: int) -> int:
        return self._add("", _info(fmt.KIND_PTR), target)

    def add_array(self, elem: int, index: int, nelems: int) -> int:
        return self._add("", _info(fmt.KIND_ARRAY), 0, elem, index, nelems)

    def _composite(self, kind: int, name: str, size: int, members: Iterable[tuple]) -> int:
        items = [tuple(m) + (0,) * (4 - len(m)) for m in members]  # name, type, bit_offset, bitfield
        kflag = any(m[3] for m in items)
        words: list[int] = []
        for mname, mtype, bit_off, bf in items:
            words += [self.string(mname), mtype, (bf << 24 | bit_off) if kflag else bit_off]
        return self._add(name, _info(kind, len(items), kflag), size, *words)

    def add_struct(self, name: str, size: int, members: Iterable[tuple]) -> int:
        """``members``: ``(name, type_id, bit_offset[, bitfield_size])``."""
        return self._composite(fmt.KIND_STRUCT, name, size, members)

    def add_union(self, name: str, size: int, members: Iterable[tuple]) -> int:
        return self._composite(fmt.KIND_UNION, name, size, members)

    def add_enum(self, name: str, values: Mapping[str, int], size: int = 4, *, signed: bool = False) -> int:
        words: list[int] = []
        for k, v in values.items():
            words += [self.string(k), v & 0xFFFFFFFF]
        return self._add(name, _info(fmt.KIND_ENUM, len(values), signed), size, *words)

    def add_enum64(self, name: str, values: Mapping[str, int], size: int = 8, *, signed: bool = False) -> int:
        words: list[int] = []
        for k, v in values.items():
            v &= 0xFFFFFFFFFFFFFFFF
            words += [self.string(k), v & 0xFFFFFFFF, v >> 32]
        return self._add(name, _info(fmt.KIND_ENUM64, len(values), signed), size, *words)

    def add_fwd(self, name: str, *, union: bool = False) -> int:
        return self._add(name, _info(fmt.KIND_FWD, 0, union), 0)

    def add_typedef(self, name: str, target: int) -> int:
        return self._add(name, _info(fmt.KIND_TYPEDEF), target)

    def add_volatile(self, target: int) -> int:
        return self._add("", _info(fmt.KIND_VOLATILE), target)

    def add_const(self, target: int) -> int:
        return self._add("", _info(fmt.KIND_CONST), target)

    def add_restrict(self, target: int) -> int:
        return self._add("", _info(fmt.KIND_RESTRICT), target)

    def add_type_tag(self, tag: str, target: int, *, attribute: bool = False) -> int:
        return self._add(tag, _info(fmt.KIND_TYPE_TAG, 0, attribute), target)

    def add_func_proto(self, ret: int, params: Iterable[tuple[str, int]], *, variadic: bool = False) -> int:
        items = list(params) + ([("", 0)] if variadic else [])
        words: list[int] = []
        for pname, ptype in items:
            words += [self.string(pname), ptype]
        return self._add("", _info(fmt.KIND_FUNC_PROTO, len(items)), ret, *words)

    def add_func(self, name: str, proto: int, linkage: str = "global") -> int:
        return self._add(name, _info(fmt.KIND_FUNC, _LINKAGE[linkage]), proto)

    def add_var(self, name: str, type_id: int, linkage: str = "global") -> int:
        return self._add(name, _info(fmt.KIND_VAR), type_id, _LINKAGE[linkage])

    def add_datasec(self, name: str, size: int, vars: Iterable[tuple[int, int, int]]) -> int:
        """``vars``: ``(var_type_id, offset, size)``."""
        items = list(vars)
        words = [w for item in items for w in item]
        return self._add(name, _info(fmt.KIND_DATASEC, len(items)), size, *words)

    def add_decl_tag(self, tag: str, target: int, component_idx: int = -1, *, attribute: bool = False) -> int:
        return self._add(tag, _info(fmt.KIND_DECL_TAG, 0, attribute), target, component_idx)

    def encode(self) -> bytes:
        """The raw BTF: header, type section, string section."""
        types = b"".join(struct.pack(f"<{len(r)}I", *r) for r in self._records)
        strings = bytes(self._strings)
        header = fmt.HEADER.pack(fmt.BTF_MAGIC, fmt.BTF_VERSION, 0, fmt.HEADER.size, 0, len(types), len(types), len(strings))
        return header + types + strings
