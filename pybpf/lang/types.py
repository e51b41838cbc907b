"""Value types of the language (what bpftrace calls SizedType): how a value is stored in the
kernel (its IR type) and how user space decodes and prints it."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler.irtypes import (
    S64,
    U8,
    U64,
    ArrayT,
    FieldT,
    IntT,
    StructT,
    Type,
    str_type,
)

STRLEN = 64  # bpftrace's default string size


@dataclass(frozen=True)
class LT:
    """kind: int, str, buf, strerror, tuple, kstack, ustack, ksym, usym, probe, inet, timestamp, username,
    ptr (a pointer, int-like; `target` is the IR type it points to when known: a BTFRef of a
    kernel struct, an integer or pointer type), record (an embedded kernel struct reached
    through a pointer: its address, `target` its BTFRef), dataloc (a tracepoint __data_loc
    field), none."""

    kind: str
    bits: int = 64
    signed: bool = False
    size: int = 0  # strings
    items: tuple[LT, ...] = ()
    fmt: str = ""  # timestamp (strftime format); ptr and record: address space
    target: Any = field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        if self.kind == "int":
            return f"{'' if self.signed else 'u'}int{self.bits}"
        if self.kind == "str":
            return f"string[{self.size}]"
        if self.kind == "tuple":
            return "(" + ", ".join(map(str, self.items)) + ")"
        if self.kind == "ptr" and self.target is not None:
            return f"{self.target} *"
        if self.kind == "record" and self.target is not None:
            return str(self.target)
        return self.kind

    @property
    def is_int(self) -> bool:
        return self.kind in ("int", "ptr")

    def ir(self) -> Type:
        k = self.kind
        if k in ("int", "ptr"):
            return IntT(self.bits, self.signed)
        if k == "str":
            return str_type(self.size)
        if k == "buf":  # a length byte, then the bytes
            return str_type(self.size + 1)
        if k == "tuple":
            return tuple_ir(self.items)
        if k == "kstack":
            return S64
        if k in ("ustack", "usym"):
            return StructT(k, (FieldT("a", S64 if k == "ustack" else U64, 0),
                               FieldT("pid", U64, 8)), 16)
        if k == "inet":
            return StructT("inet", (FieldT("af", U64, 0), FieldT("addr", ArrayT(U8, 16), 8)), 24)
        return U64  # ksym, probe, timestamp, username, none

    def widened(self) -> LT:
        """How the value is kept in maps and scratch variables: integers are 64-bit."""
        if self.kind == "int":
            return LT("int", 64, self.signed)
        if self.kind == "ptr" and self.target is not None:
            return self  # a typed pointer stays one ($t = curtask; $t->pid)
        if self.kind == "ptr":  # the address space goes along (str() of @p[tid] later)
            return LT("int", 64, False, fmt=self.fmt)
        if self.kind == "tuple":
            return LT("tuple", items=tuple(i.widened() for i in self.items))
        return self


INT64 = LT("int", 64, True)
UINT64 = LT("int", 64, False)
UINT32 = LT("int", 32, False)


def string(n: int) -> LT:
    return LT("str", size=n)


def tuple_layout(items: tuple[LT, ...]) -> list[int]:
    off, offsets = 0, []
    for it in items:
        t = it.ir()
        a = min(t.align, 8)
        off = (off + a - 1) // a * a
        offsets.append(off)
        off += t.size
    return offsets


def tuple_ir(items: tuple[LT, ...]) -> StructT:
    offsets = tuple_layout(items)
    fields = tuple(FieldT(f"f{i}", it.ir(), o) for i, (it, o) in enumerate(zip(items, offsets,
                                                                             strict=True)))
    end = offsets[-1] + items[-1].ir().size if items else 0
    return StructT("tuple", fields, max((end + 7) // 8 * 8, 8))


def same_shape(a: LT, b: LT) -> bool:
    """Compatible for the same map key / value / variable (strings may differ in size)."""
    if a.kind != b.kind:
        return a.is_int and b.is_int
    if a.kind == "tuple":
        return len(a.items) == len(b.items) and all(
            same_shape(x, y) for x, y in zip(a.items, b.items, strict=True))
    return True


def merge(a: LT, b: LT) -> LT:
    """The type that holds both (bigger strings; signed wins for integers)."""
    if a.kind == "str" and b.kind == "str":
        return a if a.size >= b.size else b
    if a.kind == "tuple" and b.kind == "tuple":
        return LT("tuple", items=tuple(merge(x, y) for x, y in zip(a.items, b.items,
                                                                    strict=True)))
    if a.kind == "buf" and b.kind == "buf":
        return a if a.size >= b.size else b
    for x, y in ((a, b), (b, a)):  # a typed pointer stays one ($t = 0; ... $t = curtask)
        if x.kind == "ptr" and x.target is not None and (
                y.kind != "ptr" or y.target is None or str(y.target) == str(x.target)):
            if y.is_int:
                return x
    if a.is_int and b.is_int:
        return LT("int", 64, a.signed or b.signed, fmt=a.fmt if a.fmt == b.fmt else "")
    return a


# ------------------------------------------------------------------------------------------
# decoding in user space
def decode(lt: LT, raw: bytes, off: int = 0) -> object:
    k = lt.kind
    if k in ("int", "ptr"):
        size = lt.bits // 8
        return int.from_bytes(raw[off:off + size], "little", signed=lt.signed)
    if k == "str":
        data = raw[off:off + lt.size]
        return data.split(b"\0", 1)[0].decode("utf-8", "replace")
    if k == "buf":
        n = min(raw[off], lt.size)
        return bytes(raw[off + 1:off + 1 + n])
    if k == "tuple":
        return tuple(decode(it, raw, off + o) for it, o in zip(lt.items, tuple_layout(lt.items),
                                                                strict=True))
    if k == "kstack":
        return struct.unpack_from("<q", raw, off)[0]
    if k in ("ustack", "usym"):
        return struct.unpack_from("<qQ" if k == "ustack" else "<QQ", raw, off)
    if k == "inet":
        af = struct.unpack_from("<Q", raw, off)[0]
        return (af, bytes(raw[off + 8:off + 24]))
    return struct.unpack_from("<Q", raw, off)[0]
