"""The compiler's types: fixed-width integers, pointers (with the address space the verifier
cares about), arrays, strings and structs. Shared by every front end."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Type:
    @property
    def size(self) -> int:
        raise NotImplementedError

    @property
    def align(self) -> int:
        return min(self.size, 8) or 1

    @property
    def is_scalar(self) -> bool:
        """Fits in a register: integers and pointers."""
        return False


@dataclass(frozen=True)
class IntT(Type):
    bits: int
    signed: bool

    @property
    def size(self) -> int:
        return self.bits // 8

    @property
    def is_scalar(self) -> bool:
        return True

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    def wrap(self, value: int) -> int:
        """C conversion of a Python int into this type."""
        value &= self.mask
        if self.signed and value >> (self.bits - 1):
            value -= 1 << self.bits
        return value

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.bits}"


@dataclass(frozen=True)
class LitT(IntT):
    """An untyped integer: literals, truth values. It takes the type of the other operand;
    alone it is a 64-bit signed value."""

    bits: int = 64
    signed: bool = True

    def __str__(self) -> str:
        return "int"


@dataclass(frozen=True)
class PtrT(Type):
    """A pointer. `space` says how it may be used: "kernel"/"user" (read with probe reads),
    "ctx", "stack", "map_value" (direct access), "packet"."""

    target: Type | None
    space: str = "kernel"

    @property
    def size(self) -> int:
        return 8

    @property
    def is_scalar(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{self.target or 'void'} *{'' if self.space == 'kernel' else ' ' + self.space}"


@dataclass(frozen=True)
class ArrayT(Type):
    elem: Type
    n: int
    is_str: bool = False  # char[N]: a NUL-terminated string in a fixed buffer

    @property
    def size(self) -> int:
        return self.elem.size * self.n

    @property
    def align(self) -> int:
        return self.elem.align

    def __str__(self) -> str:
        return f"char[{self.n}]" if self.is_str else f"{self.elem}[{self.n}]"


@dataclass(frozen=True)
class FieldT:
    name: str
    type: Type
    offset: int
    bit_offset: int = 0  # for bitfields: bit offset within the containing bytes
    bit_size: int = 0


@dataclass(frozen=True)
class StructT(Type):
    name: str
    fields: tuple[FieldT, ...]
    struct_size: int
    struct_align: int = 8
    pyclass: Any = field(default=None, compare=False, hash=False)

    @property
    def size(self) -> int:
        return self.struct_size

    @property
    def align(self) -> int:
        return self.struct_align

    def field(self, name: str) -> FieldT | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def __str__(self) -> str:
        return f"struct {self.name}"


U8, U16, U32, U64 = IntT(8, False), IntT(16, False), IntT(32, False), IntT(64, False)
S8, S16, S32, S64 = IntT(8, True), IntT(16, True), IntT(32, True), IntT(64, True)
LIT = LitT()
CHAR = S8
INTS = {str(t): t for t in (U8, U16, U32, U64, S8, S16, S32, S64)}


def common(a: IntT, b: IntT) -> IntT:
    """The type of `a op b`: an untyped side takes the other's type; else the wider; at equal
    width unsigned wins (C's rule for same-rank operands)."""
    if isinstance(a, LitT):
        return b
    if isinstance(b, LitT):
        return a
    if a.bits != b.bits:
        return a if a.bits > b.bits else b
    return a if not a.signed else b


def binop_type(op: str, a: IntT, b: IntT) -> IntT:
    """The type of `a op b` for an operator name (add, shl, cmp, ...): shifts take the type
    of their left operand, as in C (an untyped left operand takes the right one's type);
    every other operator the common type of both."""
    if op in ("shl", "shr") and not isinstance(a, LitT):
        return a
    return common(a, b)


def is_tuple(t: Type) -> bool:
    """A struct that stands for a Python tuple: a tuple expression's value (`(a, b)`) or a
    map's tuple key or value (`value=("u64", "u32")`); its members are f0, f1, ..."""
    return isinstance(t, StructT) and t.name in ("tuple", "Tuple") and \
        all(f.name == f"f{i}" for i, f in enumerate(t.fields))


def str_type(n: int) -> ArrayT:
    return ArrayT(CHAR, n, is_str=True)


def from_ctypes(ct: Any) -> Type:
    """The IR type of a ctypes type (scalars, arrays, Structures)."""
    if isinstance(ct, type) and issubclass(ct, ctypes.Array):
        if ct._type_ is ctypes.c_char:
            return str_type(ct._length_)
        return ArrayT(from_ctypes(ct._type_), ct._length_)
    if isinstance(ct, type) and issubclass(ct, ctypes.Structure | ctypes.Union):
        fields = []
        for name, *_ in ct._fields_:
            desc = getattr(ct, name)
            ftype = next(t for n, t, *_ in ct._fields_ if n == name)
            fields.append(FieldT(name, from_ctypes(ftype), desc.offset))
        return StructT(ct.__name__, tuple(fields), ctypes.sizeof(ct), ctypes.alignment(ct))
    if ct is ctypes.c_char:
        return CHAR
    if isinstance(ct, type) and issubclass(ct, ctypes._SimpleCData):
        size = ctypes.sizeof(ct)
        signed = ct(-1).value == -1
        return IntT(size * 8, signed)
    raise TypeError(f"no IR type for {ct!r}")


def from_spec(spec: Any) -> Type:
    """The IR type of a pybpf type spec (what maps take: "u32", "char[16]", ctypes...)."""
    from pybpf.types import codec

    c = codec(spec)
    pyclass = c.pyclass
    if c.kind == "int":
        return INTS[c.spec]
    if c.kind == "str":
        return str_type(c.size)
    if c.kind in ("bytes", "raw"):
        return ArrayT(U8, c.size)
    t = from_ctypes(c.ctype)
    if pyclass is not None and isinstance(t, StructT):
        t = StructT(t.name, t.fields, t.struct_size, t.struct_align, pyclass)
    return t
