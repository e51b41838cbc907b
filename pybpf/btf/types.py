"""The type model: one small slotted class per BTF kind, created on demand by :class:`BTF`.

Types refer to other types by id and resolve them through their ``btf`` on access, so
decoding one struct does not decode the types of its members.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pybpf.btf import cdecl
from pybpf.btf.errors import BTFError, BTFNotFoundError

if TYPE_CHECKING:
    from pybpf.btf.btf import BTF

MAX_CHAIN = 64  # longest typedef/qualifier chain followed before calling it a loop


class Type:
    """Base of all BTF types: ``kind``, ``id``, ``name`` ("" when anonymous)."""

    __slots__ = ("btf", "id", "name")
    kind = ""

    def __init__(self, btf: BTF, id: int, name: str) -> None:
        self.btf = btf
        self.id = id
        self.name = name

    @property
    def size(self) -> int:
        """Size in bytes (raises :class:`BTFError` for void, functions and forward decls)."""
        return self.btf.sizeof(self)

    def resolve(self) -> Type:
        """The type behind typedef/const/volatile/restrict/type_tag wrappers (self if none)."""
        return self

    def __str__(self) -> str:
        return cdecl.type_name(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self.id} {cdecl.type_name(self)!r}>"


class Void(Type):
    __slots__ = ()
    kind = "void"


class Int(Type):
    """An integer: ``size`` bytes, ``bits`` wide, ``encoding`` flags (signed/char/bool)."""

    __slots__ = ("size", "encoding", "bits", "bit_offset")
    kind = "int"

    def __init__(self, btf: BTF, id: int, name: str, size: int, word: int) -> None:
        super().__init__(btf, id, name)
        self.size = size
        self.encoding = (word >> 24) & 0x0F
        self.bit_offset = (word >> 16) & 0xFF
        self.bits = word & 0xFF

    @property
    def signed(self) -> bool:
        return bool(self.encoding & 1)

    @property
    def is_char(self) -> bool:
        return bool(self.encoding & 2)

    @property
    def is_bool(self) -> bool:
        return bool(self.encoding & 4)


class Float(Type):
    __slots__ = ("size",)
    kind = "float"

    def __init__(self, btf: BTF, id: int, name: str, size: int) -> None:
        super().__init__(btf, id, name)
        self.size = size


class Ref(Type):
    """A type that refers to one other type (``target_id``)."""

    __slots__ = ("target_id",)

    def __init__(self, btf: BTF, id: int, name: str, target_id: int) -> None:
        super().__init__(btf, id, name)
        self.target_id = target_id

    @property
    def target(self) -> Type:
        return self.btf.type_by_id(self.target_id)


class Ptr(Ref):
    __slots__ = ()
    kind = "ptr"


class Modifier(Ref):
    """typedef, const, volatile, restrict and type_tag: transparent for layout."""

    __slots__ = ()

    def resolve(self) -> Type:
        t: Type = self
        for _ in range(MAX_CHAIN):
            if not isinstance(t, Modifier):
                return t
            t = t.target
        raise BTFError(f"type #{self.id}: typedef/qualifier chain longer than {MAX_CHAIN} (a loop?)")


class Typedef(Modifier):
    __slots__ = ()
    kind = "typedef"


class Const(Modifier):
    __slots__ = ()
    kind = "const"


class Volatile(Modifier):
    __slots__ = ()
    kind = "volatile"


class Restrict(Modifier):
    __slots__ = ()
    kind = "restrict"


class TypeTag(Modifier):
    """``__attribute__((btf_type_tag(name)))``; ``attribute`` when kind_flag is set."""

    __slots__ = ("attribute",)
    kind = "type_tag"

    def __init__(self, btf: BTF, id: int, name: str, target_id: int, attribute: bool) -> None:
        super().__init__(btf, id, name, target_id)
        self.attribute = attribute


class Array(Type):
    __slots__ = ("elem_id", "index_id", "nelems")
    kind = "array"

    def __init__(self, btf: BTF, id: int, elem_id: int, index_id: int, nelems: int) -> None:
        super().__init__(btf, id, "")
        self.elem_id = elem_id
        self.index_id = index_id
        self.nelems = nelems

    @property
    def elem(self) -> Type:
        return self.btf.type_by_id(self.elem_id)


class Member:
    """A struct/union member; ``bit_offset`` from the start of the enclosing type."""

    __slots__ = ("btf", "name", "type_id", "bit_offset", "_bitfield_size")

    def __init__(self, btf: BTF, name: str, type_id: int, bit_offset: int, bitfield_size: int) -> None:
        self.btf = btf
        self.name = name
        self.type_id = type_id
        self.bit_offset = bit_offset
        self._bitfield_size = bitfield_size  # -1: legacy encoding, look at the int type

    @property
    def type(self) -> Type:
        return self.btf.type_by_id(self.type_id)

    @property
    def offset(self) -> int:
        """Byte offset (rounded down for bitfields)."""
        return self.bit_offset // 8

    @property
    def bitfield_size(self) -> int:
        """Width in bits for a bitfield, else 0."""
        if self._bitfield_size < 0:
            t = self.type.resolve()
            size = 0
            if isinstance(t, Int) and (t.bits != t.size * 8 or t.bit_offset):
                size = t.bits
                self.bit_offset += t.bit_offset
            self._bitfield_size = size
        return self._bitfield_size

    @property
    def is_bitfield(self) -> bool:
        return self.bitfield_size > 0

    def shifted(self, bits: int) -> Member:
        """A copy of this member placed ``bits`` further (for members of anonymous members)."""
        return Member(self.btf, self.name, self.type_id, self.bit_offset + bits, self.bitfield_size)

    def __str__(self) -> str:
        text = cdecl.declaration(self.type, self.name)
        return f"{text} : {self.bitfield_size}" if self.bitfield_size else text

    def __repr__(self) -> str:
        where = f"bit {self.bit_offset}" if self.bit_offset % 8 or self.bitfield_size else f"offset {self.offset}"
        return f"<Member {self} @ {where}>"


class Composite(Type):
    """struct or union: ``size`` and ``members``."""

    __slots__ = ("size", "members")

    def __init__(self, btf: BTF, id: int, name: str, size: int, members: tuple[Member, ...]) -> None:
        super().__init__(btf, id, name)
        self.size = size
        self.members = members

    def member(self, name: str) -> Member:
        """The member called ``name``, looking into anonymous struct/union members too."""
        found = self._lookup(name, 0)
        if found is None:
            what = f"{self.kind} {self.name}" if self.name else f"anonymous {self.kind} #{self.id}"
            raise BTFNotFoundError(f"{what} has no member {name!r}", lambda: self._suggest(name))
        return found

    def has_member(self, name: str) -> bool:
        return self._lookup(name, 0) is not None

    def _lookup(self, name: str, depth: int) -> Member | None:
        for m in self.members:
            if m.name == name:
                return m
        if depth < MAX_CHAIN:
            for m in self.members:
                if not m.name:
                    inner = m.type.resolve()
                    if isinstance(inner, Composite):
                        found = inner._lookup(name, depth + 1)
                        if found is not None:
                            return found.shifted(m.bit_offset)
        return None

    def member_names(self, _depth: int = 0) -> Iterator[str]:
        """Names reachable as members, including those of anonymous members."""
        for m in self.members:
            if m.name:
                yield m.name
            elif _depth < MAX_CHAIN:
                inner = m.type.resolve()
                if isinstance(inner, Composite):
                    yield from inner.member_names(_depth + 1)

    def _suggest(self, name: str) -> list[str]:
        from pybpf.btf.errors import suggest

        return suggest(name, self.member_names())

    def definition(self) -> str:
        """Multi-line C definition with byte offsets as comments."""
        return cdecl.definition(self)


class Struct(Composite):
    __slots__ = ()
    kind = "struct"


class Union(Composite):
    __slots__ = ()
    kind = "union"


class Enum(Type):
    """enum (4 bytes or smaller) or enum64: ``values`` maps names to ints."""

    __slots__ = ("size", "signed", "values")
    kind = "enum"

    def __init__(self, btf: BTF, id: int, name: str, size: int, signed: bool, values: dict[str, int]) -> None:
        super().__init__(btf, id, name)
        self.size = size
        self.signed = signed
        self.values = values

    def name_of(self, value: int) -> str | None:
        for k, v in self.values.items():
            if v == value:
                return k
        return None

    def __getitem__(self, name: str) -> int:
        try:
            return self.values[name]
        except KeyError:
            from pybpf.btf.errors import suggest

            raise BTFNotFoundError(f"enum {self.name} has no value {name!r}", suggest(name, self.values)) from None


class Enum64(Enum):
    __slots__ = ()
    kind = "enum64"


class Fwd(Type):
    """A forward declaration: ``struct foo;`` or ``union foo;``."""

    __slots__ = ("is_union",)
    kind = "fwd"

    def __init__(self, btf: BTF, id: int, name: str, is_union: bool) -> None:
        super().__init__(btf, id, name)
        self.is_union = is_union


class Param:
    """A function parameter; unpacks as ``(name, type)``."""

    __slots__ = ("btf", "name", "type_id")

    def __init__(self, btf: BTF, name: str, type_id: int) -> None:
        self.btf = btf
        self.name = name
        self.type_id = type_id

    @property
    def type(self) -> Type:
        return self.btf.type_by_id(self.type_id)

    def __iter__(self) -> Iterator[object]:
        yield self.name
        yield self.type

    def __str__(self) -> str:
        return cdecl.declaration(self.type, self.name)

    def __repr__(self) -> str:
        return f"<Param {self}>"


class FuncProto(Type):
    """A function signature: ``ret`` type, ``params`` and ``variadic``."""

    __slots__ = ("ret_id", "params", "variadic")
    kind = "func_proto"

    def __init__(self, btf: BTF, id: int, ret_id: int, params: tuple[Param, ...], variadic: bool) -> None:
        super().__init__(btf, id, "")
        self.ret_id = ret_id
        self.params = params
        self.variadic = variadic

    @property
    def ret(self) -> Type:
        return self.btf.type_by_id(self.ret_id)


class Func(Type):
    """A function: ``proto`` (a :class:`FuncProto`) and ``linkage``."""

    __slots__ = ("proto_id", "linkage")
    kind = "func"

    def __init__(self, btf: BTF, id: int, name: str, proto_id: int, linkage: str) -> None:
        super().__init__(btf, id, name)
        self.proto_id = proto_id
        self.linkage = linkage

    @property
    def proto(self) -> FuncProto:
        t = self.btf.type_by_id(self.proto_id)
        if not isinstance(t, FuncProto):
            raise BTFError(f"func {self.name} (#{self.id}) points at a {t.kind}, not a func_proto")
        return t

    @property
    def params(self) -> tuple[Param, ...]:
        return self.proto.params

    @property
    def ret(self) -> Type:
        return self.proto.ret


class Var(Type):
    __slots__ = ("type_id", "linkage")
    kind = "var"

    def __init__(self, btf: BTF, id: int, name: str, type_id: int, linkage: str) -> None:
        super().__init__(btf, id, name)
        self.type_id = type_id
        self.linkage = linkage

    @property
    def type(self) -> Type:
        return self.btf.type_by_id(self.type_id)


class VarSecinfo:
    """One variable of a data section: ``type`` (usually a :class:`Var`), ``offset``, ``size``."""

    __slots__ = ("btf", "type_id", "offset", "size")

    def __init__(self, btf: BTF, type_id: int, offset: int, size: int) -> None:
        self.btf = btf
        self.type_id = type_id
        self.offset = offset
        self.size = size

    @property
    def type(self) -> Type:
        return self.btf.type_by_id(self.type_id)

    def __repr__(self) -> str:
        return f"<VarSecinfo #{self.type_id} offset={self.offset} size={self.size}>"


class Datasec(Type):
    __slots__ = ("size", "vars")
    kind = "datasec"

    def __init__(self, btf: BTF, id: int, name: str, size: int, vars: tuple[VarSecinfo, ...]) -> None:
        super().__init__(btf, id, name)
        self.size = size
        self.vars = vars


class DeclTag(Type):
    """A declaration tag on ``target`` (``component_idx`` -1: the type itself, else member/param)."""

    __slots__ = ("target_id", "component_idx", "attribute")
    kind = "decl_tag"

    def __init__(self, btf: BTF, id: int, name: str, target_id: int, component_idx: int, attribute: bool) -> None:
        super().__init__(btf, id, name)
        self.target_id = target_id
        self.component_idx = component_idx
        self.attribute = attribute

    @property
    def target(self) -> Type:
        return self.btf.type_by_id(self.target_id)
