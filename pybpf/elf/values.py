"""Python values from bytes and back, by the object's BTF types.

Integers, enums and pointers become ints, `char[N]` becomes str, other arrays lists, structs
and unions dicts (members of anonymous members merged in), a DATASEC a dict of its variables.
`encode` accepts the same shapes; a dict may set only some members of a struct.
"""

from __future__ import annotations

import struct
from typing import Any

from pybpf.btf import BTF
from pybpf.btf import types as t


def strip(typ: t.Type) -> t.Type:
    for _ in range(64):
        if not isinstance(typ, t.Modifier):
            return typ
        typ = typ.target
    raise ValueError("type chain too long")


def _is_char(typ: t.Type) -> bool:
    typ = strip(typ)
    return isinstance(typ, t.Int) and typ.size == 1 and (typ.is_char or "char" in typ.name)


def _int(data: bytes, size: int, signed: bool) -> int:
    return int.from_bytes(data[:size], "little", signed=signed)


#: members and elements nested deeper than this are a loop in damaged BTF (a struct that
#: contains itself), which would otherwise recurse until Python's limit
MAX_DEPTH = 64


def decode(btf: BTF, typ: t.Type | int, data: bytes, _depth: int = 0) -> Any:
    """The Python value of `data` as BTF type `typ` (an id or a type)."""
    if isinstance(typ, int):
        typ = btf.type_by_id(typ)
    if _depth > MAX_DEPTH:
        raise ValueError(f"{typ.kind} {typ.name or '(anon)'} nests more than {MAX_DEPTH} "
                         "levels deep (a loop in the BTF?)")
    typ = strip(typ)
    if isinstance(typ, t.Int):
        if typ.is_bool:
            return bool(data[0])
        return _int(data, typ.size, typ.signed)
    if isinstance(typ, t.Enum):
        return _int(data, typ.size, typ.signed)
    if isinstance(typ, t.Ptr):
        return _int(data, 8, False)
    if isinstance(typ, t.Float):
        return struct.unpack_from({4: "<f", 8: "<d"}.get(typ.size, "<d"), data)[0] \
            if typ.size in (4, 8) else bytes(data[: typ.size])
    if isinstance(typ, t.Array):
        return _decode_array(btf, typ, data, _depth)
    if isinstance(typ, t.Composite):
        return _decode_composite(btf, typ, data, _depth)
    if isinstance(typ, t.Datasec):
        return {v.type.name: decode(btf, v.type.type, data[v.offset: v.offset + v.size],
                                    _depth + 1)
                for v in typ.vars}
    if isinstance(typ, t.Var):
        return decode(btf, typ.type, data, _depth + 1)
    return bytes(data)


def _decode_array(btf: BTF, typ: t.Array, data: bytes, depth: int) -> Any:
    if _is_char(typ.elem):
        return bytes(data[: typ.nelems]).split(b"\0", 1)[0].decode(errors="replace")
    n = btf.sizeof(typ.elem)
    # only the elements the data holds: a damaged element count must not make a list of
    # billions of zeros
    count = min(typ.nelems, len(data) // n) if n else 0
    return [decode(btf, typ.elem, data[i * n:(i + 1) * n], depth + 1) for i in range(count)]


def _bitfield(data: bytes, bit_offset: int, bits: int, signed: bool) -> int:
    value = (int.from_bytes(data, "little") >> bit_offset) & ((1 << bits) - 1)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def _decode_composite(btf: BTF, typ: t.Composite, data: bytes,
                      depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in typ.members:
        if m.is_bitfield:
            mt = strip(m.type)
            signed = bool(getattr(mt, "signed", False))
            out[m.name] = _bitfield(data, m.bit_offset, m.bitfield_size, signed)
            continue
        size = btf.sizeof(m.type) if not _flexible(m.type) else 0
        value = decode(btf, m.type, data[m.offset: m.offset + size], depth + 1) if size else []
        if not m.name and isinstance(value, dict):
            out.update(value)
        else:
            out[m.name] = value
    return out


def _flexible(typ: t.Type) -> bool:
    typ = strip(typ)
    return isinstance(typ, t.Array) and typ.nelems == 0


class ValueRangeError(ValueError):
    """An integer that does not fit its BTF type (encoding it would keep only the low bits:
    2**32 + 1 in a u32 became 1). `ctype` names the C type, `lo`..`hi` is its range, `path`
    the struct members (outermost first) that lead to it."""

    def __init__(self, value: int, ctype: str, lo: int, hi: int) -> None:
        super().__init__(value, ctype, lo, hi)
        self.value, self.ctype, self.lo, self.hi = value, ctype, lo, hi
        self.path: list[str] = []

    def __str__(self) -> str:
        path = "".join(p if p.startswith("[") else f".{p}" for p in self.path).lstrip(".")
        where = f"{path} is " if path else ""
        return f"{self.value} does not fit: {where}{self.ctype} ({self.lo} to {self.hi})"


def c_type_name(typ: t.Type) -> str:
    """How C spells `typ` for a message: "__u32 (unsigned int)", "int", "enum colour"."""
    declared = ""
    for _ in range(64):
        if isinstance(typ, t.Typedef) and not declared:
            declared = typ.name
        if not isinstance(typ, t.Modifier):
            break
        typ = typ.target
    if isinstance(typ, t.Enum):
        base = f"enum {typ.name}" if typ.name else "enum"
    elif isinstance(typ, t.Ptr):
        base = "pointer"
    else:
        base = typ.name or typ.kind
    return f"{declared} ({base})" if declared and declared != base else base


def int_range(typ: t.Type, bits: int) -> tuple[int, int]:
    """The values an integer of BTF type `typ` (stripped) and `bits` bits holds."""
    if isinstance(typ, t.Int) and typ.is_bool:
        return 0, 1
    if isinstance(typ, t.Enum) and not typ.signed:
        # enums written by older compilers carry no signedness, and C code gives them
        # negative values as often as large ones: take both (the bits are the same)
        return -(1 << (bits - 1)), (1 << bits) - 1
    if getattr(typ, "signed", False):
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _checked_int(declared: t.Type, typ: t.Type, value: Any, bits: int,
                 bitfield: bool = False) -> int:
    if isinstance(value, str) and isinstance(typ, t.Enum):
        value = typ[value]
    v = int(value)
    lo, hi = int_range(typ, bits)
    if not lo <= v <= hi:
        name = c_type_name(declared)
        raise ValueRangeError(v, f"{name}:{bits}" if bitfield else name, lo, hi)
    return v


def encode(btf: BTF, typ: t.Type | int, value: Any, base: bytes | None = None) -> bytes:
    """Bytes of `value` as type `typ`; `base` holds the previous bytes (for partial dicts)."""
    if isinstance(typ, int):
        typ = btf.type_by_id(typ)
    size = btf.sizeof(typ)
    if isinstance(value, bytes | bytearray) and len(value) == size:
        return bytes(value)
    declared, typ = typ, strip(typ)
    buf = bytearray(base if base is not None and len(base) == size else bytes(size))
    if isinstance(typ, t.Int | t.Enum | t.Ptr):
        v = _checked_int(declared, typ, value, 8 * size)
        return v.to_bytes(size, "little", signed=v < 0)
    if isinstance(typ, t.Float):
        return struct.pack({4: "<f", 8: "<d"}[size], float(value))
    if isinstance(typ, t.Array):
        if _is_char(typ.elem) and isinstance(value, str | bytes):
            raw = value.encode() if isinstance(value, str) else value
            if len(raw) > size:
                raise ValueError(f"{value!r} is longer than {size} bytes")
            return raw.ljust(size, b"\0")
        items = list(value)
        if len(items) > typ.nelems:
            raise ValueError(f"{len(items)} items do not fit in {typ.nelems}")
        n = btf.sizeof(typ.elem)
        for i, item in enumerate(items):
            try:
                buf[i * n:(i + 1) * n] = encode(btf, typ.elem, item,
                                                bytes(buf[i * n:(i + 1) * n]))
            except ValueRangeError as e:
                e.path.insert(0, f"[{i}]")
                raise
        return bytes(buf)
    if isinstance(typ, t.Composite):
        if not isinstance(value, dict):
            raise ValueError(f"a {typ.kind} {typ.name} value is a dict of its members")
        _encode_members(btf, typ, value, buf, 0)
        return bytes(buf)
    raise ValueError(f"cannot encode a value of BTF kind {typ.kind}")


def _encode_members(btf: BTF, typ: t.Composite, value: dict[str, Any], buf: bytearray,
                    at: int) -> None:
    known = set()
    for m in typ.members:
        if not m.name:
            inner = strip(m.type)
            if isinstance(inner, t.Composite):
                _encode_members(btf, inner, {k: v for k, v in value.items()
                                             if inner.has_member(k)}, buf, at + m.offset)
                known.update(inner.member_names())
            continue
        known.add(m.name)
        if m.name not in value:
            continue
        try:
            if m.is_bitfield:
                bits = m.bitfield_size
                v = _checked_int(m.type, strip(m.type), value[m.name], bits, bitfield=True)
                v &= (1 << bits) - 1  # a negative one in two's complement, in its bits
                word = int.from_bytes(buf, "little")
                mask = ((1 << bits) - 1) << (m.bit_offset + 8 * at)
                word = (word & ~mask) | ((v << (m.bit_offset + 8 * at)) & mask)
                buf[:] = word.to_bytes(len(buf), "little")
                continue
            start = at + m.offset
            n = btf.sizeof(m.type)
            buf[start:start + n] = encode(btf, m.type, value[m.name],
                                          bytes(buf[start:start + n]))
        except ValueRangeError as e:  # say which member, outermost first
            e.path.insert(0, m.name)
            raise
    unknown = set(value) - known
    if unknown:
        raise ValueError(f"{typ.kind} {typ.name} has no member {sorted(unknown)[0]!r}")
