"""Fixed-width types and their byte codecs: what map keys and values, ring buffer records and
compiled programs are made of.

A type spec is one of:
- a name: "u8".."u64", "s8".."s64" (also "__u32", "int", "unsigned int", "long", "bool"...),
- an array: "char[16]" (a str, NUL-trimmed on read), "u8[6]" (bytes), "u32[4]" (a tuple),
- a ctypes scalar type (u32 below is ctypes.c_uint32), a ctypes array or Structure class,
- an int: raw bytes of that size,
- a tuple of specs: a C struct of those members (with C alignment), read back as a tuple,
- a `pybpf.bpf.Struct` subclass: read back as an instance of it.
"""

from __future__ import annotations

import ctypes
import re
import struct
from dataclasses import dataclass
from typing import Any

u8, u16, u32, u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
s8, s16, s32, s64 = ctypes.c_int8, ctypes.c_int16, ctypes.c_int32, ctypes.c_int64



class char:  # noqa: N801 - reads like C
    """`char[16]` in annotations: the type spec "char[16]" (a NUL-terminated string)."""

    def __class_getitem__(cls, n: int) -> str:
        return f"char[{int(n)}]"


_SCALARS: dict[str, tuple[str, Any]] = {
    "u8": ("B", u8), "u16": ("H", u16), "u32": ("I", u32), "u64": ("Q", u64),
    "s8": ("b", s8), "s16": ("h", s16), "s32": ("i", s32), "s64": ("q", s64),
}
_ALIASES = {
    "__u8": "u8", "__u16": "u16", "__u32": "u32", "__u64": "u64", "__s8": "s8", "__s16": "s16",
    "__s32": "s32", "__s64": "s64", "uint8_t": "u8", "uint16_t": "u16", "uint32_t": "u32",
    "uint64_t": "u64", "int8_t": "s8", "int16_t": "s16", "int32_t": "s32", "int64_t": "s64",
    "char": "s8", "unsigned char": "u8", "short": "s16", "unsigned short": "u16", "int": "s32",
    "unsigned int": "u32", "unsigned": "u32", "long": "s64", "unsigned long": "u64",
    "long long": "s64", "unsigned long long": "u64", "bool": "u8", "_Bool": "u8",
    "size_t": "u64", "pid_t": "s32", "i8": "s8", "i16": "s16", "i32": "s32", "i64": "s64",
}
_ARRAY = re.compile(r"^\s*(.+?)\s*\[\s*(\d+)\s*\]\s*$")


@dataclass(frozen=True)
class Codec:
    """Packs Python values to the kernel's bytes and back, for one fixed-size type."""

    spec: str
    size: int
    kind: str  # "int", "str", "bytes", "tuple", "struct", "raw"
    fmt: str = ""
    ctype: Any = None
    elem: Codec | None = None
    count: int = 0
    members: tuple[tuple[int, Codec], ...] = ()  # (offset, codec) of tuple members
    pyclass: Any = None

    def pack(self, value: Any) -> bytes:
        try:
            return self._pack(value)
        except (struct.error, TypeError, ValueError, OverflowError) as e:
            raise ValueError(f"cannot store {value!r} as {self.spec} ({self.size} bytes): "
                             f"{e}") from None

    def _pack(self, value: Any) -> bytes:
        if self.kind == "int":
            return struct.pack("<" + self.fmt, _wrap(int(value), self.fmt))
        if self.kind == "str":
            raw = value.encode() if isinstance(value, str) else bytes(value)
            if len(raw) > self.size:
                raise ValueError(f"longer than {self.size} bytes")
            return raw.ljust(self.size, b"\0")
        if self.kind in ("bytes", "raw"):
            raw = bytes(value)
            if len(raw) != self.size:
                raise ValueError(f"need exactly {self.size} bytes, got {len(raw)}")
            return raw
        if self.kind == "tuple":
            assert self.elem is not None
            items = list(value)
            if len(items) != self.count:
                raise ValueError(f"need {self.count} items, got {len(items)}")
            return b"".join(self.elem.pack(v) for v in items)
        if self.kind == "tuple-struct":
            items = tuple(value)
            if len(items) != len(self.members):
                raise ValueError(f"need a tuple of {len(self.members)} items, got {len(items)}")
            out = bytearray(self.size)
            for (off, c), v in zip(self.members, items, strict=True):
                out[off:off + c.size] = c.pack(v)
            return bytes(out)
        if self.kind == "pystruct":
            if isinstance(value, self.pyclass):
                return value.to_bytes()
            if isinstance(value, dict):
                return self.pyclass(**value).to_bytes()
            return self.pyclass(*value).to_bytes()
        if self.kind == "struct":
            if isinstance(value, self.ctype):
                return bytes(value)
            if isinstance(value, dict):
                return bytes(self.ctype(**value))
            if isinstance(value, bytes | bytearray):
                return self._pack_raw(value)
            return bytes(self.ctype(*value))
        raise AssertionError(self.kind)

    def _pack_raw(self, value: bytes | bytearray) -> bytes:
        if len(value) != self.size:
            raise ValueError(f"need exactly {self.size} bytes, got {len(value)}")
        return bytes(value)

    def unpack(self, data: bytes | memoryview) -> Any:
        data = bytes(data[: self.size])
        if self.kind == "int":
            return struct.unpack("<" + self.fmt, data)[0]
        if self.kind == "str":
            return data.split(b"\0", 1)[0].decode(errors="replace")
        if self.kind in ("bytes", "raw"):
            return data
        if self.kind == "tuple":
            assert self.elem is not None
            n = self.elem.size
            return tuple(self.elem.unpack(data[i * n:(i + 1) * n]) for i in range(self.count))
        if self.kind == "struct":
            return self.ctype.from_buffer_copy(data)
        if self.kind == "tuple-struct":
            return tuple(c.unpack(data[off:off + c.size]) for off, c in self.members)
        if self.kind == "pystruct":
            return self.pyclass.from_bytes(data)
        raise AssertionError(self.kind)


def _wrap(value: int, fmt: str) -> int:
    """C conversion: wrap an int into the range of the struct format (two's complement)."""
    bits = struct.calcsize(fmt) * 8
    value &= (1 << bits) - 1
    if fmt.islower() and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def codec(spec: Any) -> Codec:
    """The codec for a type spec (see the module docstring)."""
    if isinstance(spec, Codec):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        return Codec(f"{spec} bytes", spec, "raw")
    if isinstance(spec, str):
        return _codec_from_name(spec)
    if isinstance(spec, tuple | list):
        return _tuple_codec(spec)
    if isinstance(spec, type) and hasattr(spec, "_ctype_") and hasattr(spec, "from_bytes"):
        ct = spec._ctype_
        return Codec(spec.__name__, ctypes.sizeof(ct), "pystruct", ctype=ct, pyclass=spec)
    if isinstance(spec, type) and issubclass(spec, ctypes._SimpleCData):
        for name, (fmt, ct) in _SCALARS.items():
            if spec is ct:
                return Codec(name, struct.calcsize(fmt), "int", fmt, ct)
        if spec in (ctypes.c_char,):
            return Codec("char", 1, "bytes", ctype=spec)
        size = ctypes.sizeof(spec)
        signed = spec(-1).value == -1
        name = f"{'s' if signed else 'u'}{size * 8}"
        return _codec_from_name(name)
    if isinstance(spec, type) and issubclass(spec, ctypes.Array):
        elem = codec(spec._type_)
        n = spec._length_
        if spec._type_ is ctypes.c_char:
            return Codec(f"char[{n}]", n, "str", ctype=spec)
        if elem.spec == "u8":
            return Codec(f"u8[{n}]", n, "bytes", ctype=spec)
        return Codec(f"{elem.spec}[{n}]", elem.size * n, "tuple", ctype=spec, elem=elem, count=n)
    if isinstance(spec, type) and issubclass(spec, ctypes.Structure | ctypes.Union):
        return Codec(spec.__name__, ctypes.sizeof(spec), "struct", ctype=spec)
    ctype = getattr(spec, "_ctype_", None)  # e.g. compiler structs carry their ctypes layout
    if ctype is not None:
        return codec(ctype)
    raise TypeError(f"unknown type {spec!r}: use 'u8'..'u64', 's8'..'s64', 'char[N]', "
                    "'u8[N]', a ctypes type or Structure, or a size in bytes")


def _codec_from_name(spec: str) -> Codec:
    name = " ".join(spec.split())
    m = _ARRAY.match(name)
    if m:
        base, n = m.group(1), int(m.group(2))
        if n <= 0:
            raise TypeError(f"array {spec!r} needs a positive length")
        if base == "char":
            return Codec(f"char[{n}]", n, "str", ctype=ctypes.c_char * n)
        elem = _codec_from_name(base)
        if elem.spec == "u8":
            return Codec(f"u8[{n}]", n, "bytes", ctype=ctypes.c_uint8 * n)
        return Codec(f"{elem.spec}[{n}]", elem.size * n, "tuple", ctype=elem.ctype * n,
                     elem=elem, count=n)
    canon = _ALIASES.get(name, name)
    if canon in _SCALARS:
        fmt, ct = _SCALARS[canon]
        return Codec(canon, struct.calcsize(fmt), "int", fmt, ct)
    raise TypeError(f"unknown type {spec!r}: use 'u8'..'u64', 's8'..'s64', 'char[N]', 'u8[N]', "
                    "a ctypes type or Structure, or a size in bytes")


def _tuple_codec(specs: tuple | list) -> Codec:
    """A C struct whose members are `specs`, in order, with C alignment."""
    if not specs:
        raise TypeError("a tuple type needs at least one member")
    codecs = [codec(s) for s in specs]
    fields = [(f"f{i}", _ctype_of(c)) for i, c in enumerate(codecs)]
    ct = type("Tuple", (ctypes.Structure,), {"_fields_": fields})
    members = tuple((getattr(ct, f"f{i}").offset, c) for i, c in enumerate(codecs))
    name = "(" + ", ".join(c.spec for c in codecs) + ")"
    return Codec(name, ctypes.sizeof(ct), "tuple-struct", ctype=ct, members=members)


def _ctype_of(c: Codec) -> Any:
    if c.ctype is not None:
        return c.ctype
    return ctypes.c_uint8 * c.size
