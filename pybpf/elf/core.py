"""CO-RE: compute relocated values against the running kernel's BTF.

A CO-RE relocation (BTF.ext core_relo) names a local type id, an access string and a kind.
The access string "0:2:1" reads: index 0 of the root type (pointer arithmetic), member 2 of
it, member (or array element) 1 of that. The same path is then looked up in the kernel's
types *by name*: candidate types share the local type's "essential" name (anything from
"___" on is a local flavour suffix, so `task_struct___x` matches `task_struct`), and members
are matched by name, looking through anonymous structs and unions. The values (offset, size,
existence, signedness, bitfield shifts, type id/size/existence, enumerator existence/value)
of the local and the kernel's path are computed; the instruction is then patched.

Semantics follow the kernel's Documentation/bpf/llvm_reloc.rst and libbpf's relo_core.c.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pybpf.btf import BTF
from pybpf.btf import types as t


class CoreKind(enum.IntEnum):
    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12

    @property
    def is_field(self) -> bool:
        return self <= CoreKind.FIELD_RSHIFT_U64

    @property
    def is_enum(self) -> bool:
        return self in (CoreKind.ENUMVAL_EXISTS, CoreKind.ENUMVAL_VALUE)

    @property
    def is_existence(self) -> bool:
        return self in (CoreKind.FIELD_EXISTS, CoreKind.TYPE_EXISTS, CoreKind.ENUMVAL_EXISTS,
                        CoreKind.TYPE_MATCHES)


class CoreError(Exception):
    """A relocation that cannot be computed (its instruction is poisoned)."""


@dataclass(slots=True)
class FieldSpec:
    """A resolved field access path in one BTF."""

    root: t.Type
    bit_offset: int
    field_type: t.Type  # the accessed field's type (modifiers kept)
    bitfield_size: int  # 0 unless the last step is a bitfield member
    path: str  # readable: "task_struct.real_parent"


@dataclass(frozen=True, slots=True)
class Resolution:
    local: int
    target: int
    poison: bool = False
    reason: str = ""
    local_size: int = 0  # field sizes (FIELD_BYTE_OFFSET: to adjust load widths)
    target_size: int = 0
    target_is_int: bool = False


def essential_name(name: str) -> str:
    """`task_struct___x` -> `task_struct` (flavours are local-only variants)."""
    pos = name.find("___")
    return name[:pos] if pos > 0 else name


def _strip(typ: t.Type) -> t.Type:
    """Skip modifiers and typedefs."""
    for _ in range(64):
        if isinstance(typ, t.Modifier):
            typ = typ.target
        else:
            return typ
    raise CoreError("type chain too long (a loop?)")


def _size(btf: BTF, typ: t.Type) -> int:
    return btf.sizeof(typ)


def describe(btf: BTF, type_id: int, access: str, kind: CoreKind) -> str:
    """A readable name of a relocation: `struct task_struct___x: pid (field byte offset)`."""
    try:
        root = btf.type_by_id(type_id)
        what = f"{root.kind} {root.name or '(anon)'}"
        if kind.is_field:
            what += ": " + _local_spec(btf, root, access).path.partition(".")[2]
        elif kind.is_enum:
            assert isinstance(root, t.Enum)
            what += "::" + list(root.values)[int(access)]
    except (CoreError, ValueError, IndexError, KeyError, AssertionError):
        what = f"type #{type_id} access {access!r}"
    return f"{what} ({kind.name.lower().replace('_', ' ')})"


# -- local specs -------------------------------------------------------------------------
def _access(access: str) -> list[int]:
    try:
        return [int(x) for x in access.split(":")]
    except ValueError:
        raise CoreError(f"malformed access string {access!r}") from None


def _local_spec(btf: BTF, root: t.Type, access: str) -> FieldSpec:
    idx = _access(access)
    typ = _strip(root)
    bit = idx[0] * _size(btf, typ) * 8
    path = [root.name or "(anon)"]
    field_type: t.Type = root
    bits = 0
    for i in idx[1:]:
        typ = _strip(field_type)
        if isinstance(typ, t.Composite):
            if i >= len(typ.members):
                raise CoreError(f"member #{i} of {typ.kind} {typ.name} does not exist")
            m = typ.members[i]
            bit += m.bit_offset
            bits = m.bitfield_size
            field_type = m.type
            path.append(m.name or f"(anon #{i})")
        elif isinstance(typ, t.Array):
            bit += i * _size(btf, typ.elem) * 8
            bits = 0
            field_type = typ.elem
            path[-1] += f"[{i}]"
        else:
            raise CoreError(f"cannot access member #{i} of a {typ.kind}")
    return FieldSpec(root, bit, field_type, bits, ".".join(path))


# -- matching against the kernel ---------------------------------------------------------
def _candidates(target: BTF, local: t.Type) -> list[t.Type]:
    name = essential_name(local.name)
    if not name:
        raise CoreError(f"relocation against an anonymous {local.kind}: CO-RE needs a name")
    kinds = {"struct": ("struct",), "union": ("union",), "enum": ("enum", "enum64"),
             "enum64": ("enum", "enum64")}.get(local.kind, (local.kind,))
    found: list[t.Type] = []
    for kind in dict.fromkeys(kinds):
        try:
            found += target.find_all(name, kind)
        except (KeyError, ValueError):
            pass
    return found


def _compatible(a: t.Type, b: t.Type, depth: int = 0) -> bool:
    """libbpf's field compatibility: any two structs or unions are compatible (their members
    are matched by the next steps of the path); otherwise the kinds agree (enum and enum64
    count as one), forward declarations and enums by essential name, integers when neither
    is an old-style bitfield integer, arrays by their elements."""
    a, b = _strip(a), _strip(b)
    if isinstance(a, t.Composite) and isinstance(b, t.Composite):
        return True
    if isinstance(a, t.Enum) and isinstance(b, t.Enum) or isinstance(a, t.Fwd) \
            and isinstance(b, t.Fwd):
        return essential_name(a.name) == essential_name(b.name)
    if isinstance(a, t.Int) and isinstance(b, t.Int):
        return a.bit_offset == 0 and b.bit_offset == 0
    if isinstance(a, t.Ptr) and isinstance(b, t.Ptr) \
            or isinstance(a, t.Float) and isinstance(b, t.Float):
        return True
    if isinstance(a, t.Array) and isinstance(b, t.Array):
        return depth < 8 and _compatible(a.elem, b.elem, depth + 1)
    return False


def _find_member(comp: t.Composite, name: str, depth: int = 0) -> t.Member | None:
    for m in comp.members:
        if m.name == name:
            return m
    for m in comp.members:
        if not m.name and depth < 16:
            inner = _strip(m.type)
            if isinstance(inner, t.Composite):
                found = _find_member(inner, name, depth + 1)
                if found is not None:
                    return found.shifted(m.bit_offset)
    return None


def _match(local_btf: BTF, target_btf: BTF, local_root: t.Type, access: str,
           cand: t.Type) -> FieldSpec | None:
    """The kernel's version of the local access path, from candidate root `cand`.

    As in libbpf, only the named steps of the local path (and array indices) are matched:
    an anonymous struct or union member of the local type is a step in the local layout
    only, and a named member is searched in the kernel's type through any anonymous members
    it has (`sk->__sk_common.skc_dport` crosses two of them in both types)."""
    idx = _access(access)
    typ = _strip(cand)
    bit = idx[0] * _size(target_btf, typ) * 8
    field_type: t.Type = cand
    bits = 0
    ltype: t.Type = local_root
    path = [cand.name]
    for i in idx[1:]:
        lt, tt = _strip(ltype), _strip(field_type)
        if isinstance(lt, t.Composite):
            if i >= len(lt.members):
                return None
            lm = lt.members[i]
            if not lm.name:  # only in the local layout: the kernel's type stays where it is
                ltype = lm.type
                continue
            if not isinstance(tt, t.Composite):
                return None
            tm = _find_member(tt, lm.name)
            if tm is None or not _compatible(lm.type, tm.type):
                return None
            bit += tm.bit_offset
            bits = tm.bitfield_size
            field_type, ltype = tm.type, lm.type
            path.append(lm.name)
        elif isinstance(lt, t.Array):
            if not isinstance(tt, t.Array):
                return None
            if tt.nelems and i >= tt.nelems:
                return None
            bit += i * _size(target_btf, tt.elem) * 8
            bits = 0
            field_type, ltype = tt.elem, lt.elem
            path[-1] += f"[{i}]"
        else:
            return None
    return FieldSpec(cand, bit, field_type, bits, ".".join(path))


# -- values ------------------------------------------------------------------------------
def _field_value(btf: BTF, spec: FieldSpec, kind: CoreKind) -> int:
    ftype = _strip(spec.field_type)
    if kind == CoreKind.FIELD_EXISTS:
        return 1
    if kind == CoreKind.FIELD_SIGNED:
        if isinstance(ftype, t.Enum):
            return int(ftype.signed)
        return int(isinstance(ftype, t.Int) and ftype.signed)
    bit_off = spec.bit_offset
    if spec.bitfield_size:
        bit_sz = spec.bitfield_size
        byte_sz = _size(btf, ftype)
        if byte_sz <= 0:  # damaged BTF: the loop below would divide by it
            raise CoreError(f"bitfield {spec.path} has a type of size {byte_sz}")
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise CoreError(f"bitfield {spec.path} spans more than 8 bytes")
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = _size(btf, ftype)
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    if kind == CoreKind.FIELD_BYTE_OFFSET:
        return byte_off
    if kind == CoreKind.FIELD_BYTE_SIZE:
        return byte_sz
    if kind == CoreKind.FIELD_LSHIFT_U64:
        return 64 - (bit_off + bit_sz - byte_off * 8)
    if kind == CoreKind.FIELD_RSHIFT_U64:
        return 64 - bit_sz
    raise CoreError(f"unknown field relocation kind {kind}")


def _is_int_like(btf: BTF, typ: t.Type) -> bool:
    return isinstance(_strip(typ), t.Int | t.Enum | t.Ptr)


def resolve(local_btf: BTF, target_btf: BTF, type_id: int, access: str,
            kind: int) -> Resolution:
    """The local and the kernel's value of one relocation. Missing targets give 0 for the
    existence kinds and a poisoned result (with the reason) for the others."""
    try:
        k = CoreKind(kind)
    except ValueError:
        raise CoreError(f"unknown CO-RE relocation kind {kind}") from None
    local = local_btf.type_by_id(type_id)
    if k == CoreKind.TYPE_ID_LOCAL:
        return Resolution(type_id, type_id)
    if k.is_field:
        return _resolve_field(local_btf, target_btf, local, access, k)
    if k.is_enum:
        return _resolve_enum(target_btf, local, access, k)
    return _resolve_type(local_btf, target_btf, local, k)


def _missing(k: CoreKind, local_value: int, reason: str) -> Resolution:
    if k.is_existence:
        return Resolution(local_value, 0)
    return Resolution(local_value, 0, poison=True, reason=reason)


def _resolve_field(local_btf: BTF, target_btf: BTF, local: t.Type, access: str,
                   k: CoreKind) -> Resolution:
    lspec = _local_spec(local_btf, local, access)
    lval = _field_value(local_btf, lspec, k)
    for cand in _candidates(target_btf, _strip(local)):
        tspec = _match(local_btf, target_btf, local, access, cand)
        if tspec is not None:
            tval = _field_value(target_btf, tspec, k)
            return Resolution(lval, tval, local_size=_size(local_btf, _strip(lspec.field_type)),
                              target_size=_size(target_btf, _strip(tspec.field_type)),
                              target_is_int=_is_int_like(target_btf, tspec.field_type))
    name = essential_name(_strip(local).name)
    if not _candidates(target_btf, _strip(local)):
        return _missing(k, lval, f"the kernel has no {_strip(local).kind} {name}")
    return _missing(k, lval, f"the kernel's {_strip(local).kind} {name} has no field "
                             f"{lspec.path.partition('.')[2] or lspec.path}")


def _resolve_type(local_btf: BTF, target_btf: BTF, local: t.Type, k: CoreKind) -> Resolution:
    lval = {CoreKind.TYPE_ID_TARGET: local.id, CoreKind.TYPE_SIZE: 0}.get(k, 1)
    if k == CoreKind.TYPE_SIZE:
        lval = _size(local_btf, local)
    for cand in _candidates(target_btf, local):
        if not _compatible(local, cand):
            continue
        if k == CoreKind.TYPE_ID_TARGET:
            return Resolution(lval, cand.id)
        if k == CoreKind.TYPE_SIZE:
            return Resolution(lval, _size(target_btf, cand))
        if k == CoreKind.TYPE_MATCHES and not _types_match(local, cand, 0):
            continue
        return Resolution(lval, 1)
    return _missing(k, lval, f"the kernel has no {local.kind} {essential_name(local.name)}")


def _types_match(a: t.Type, b: t.Type, depth: int) -> bool:
    """bpf_core_type_matches(): a stricter relation than existence. After modifiers and
    typedefs, the kinds agree (enum and enum64 count as one; a forward declaration matches a
    struct or union of its name); named types have the same essential name; integers have
    the same size and signedness; pointers point at matching types; arrays have the same
    length and matching elements; function prototypes have matching return and parameter
    types; every member of a local struct or union, and every enumerator of a local enum,
    is in the kernel's type (which may have more), members with matching types."""
    if depth > 32:
        return False
    a, b = _strip(a), _strip(b)
    if a.name and isinstance(a, t.Composite | t.Enum | t.Fwd) \
            and essential_name(a.name) != essential_name(b.name):
        return False
    if isinstance(a, t.Fwd) or isinstance(b, t.Fwd):
        return isinstance(a, t.Fwd | t.Composite) and isinstance(b, t.Fwd | t.Composite)
    if isinstance(a, t.Void) or isinstance(b, t.Void):
        return type(a) is type(b)
    if isinstance(a, t.Int):
        return isinstance(b, t.Int) and a.size == b.size and a.signed == b.signed
    if isinstance(a, t.Enum):
        return isinstance(b, t.Enum) and a.size == b.size and all(
            any(essential_name(n) == essential_name(m) for m in b.values) for n in a.values)
    if isinstance(a, t.Float):
        return isinstance(b, t.Float) and a.size == b.size
    if isinstance(a, t.Ptr):
        return isinstance(b, t.Ptr) and _types_match(a.target, b.target, depth + 1)
    if isinstance(a, t.Array):
        return isinstance(b, t.Array) and a.nelems == b.nelems \
            and _types_match(a.elem, b.elem, depth + 1)
    if isinstance(a, t.FuncProto):
        return isinstance(b, t.FuncProto) and len(a.params) == len(b.params) \
            and _types_match(a.ret, b.ret, depth + 1) \
            and all(_types_match(p.type, q.type, depth + 1) for p, q in zip(a.params, b.params, strict=True))
    if isinstance(a, t.Composite):
        if type(a) is not type(b):
            return False
        assert isinstance(b, t.Composite)
        for lm in a.members:
            tm = next((m for m in b.members if m.name == lm.name), None)
            if tm is None or not _types_match(lm.type, tm.type, depth + 1):
                return False
        return True
    return type(a) is type(b)


def _resolve_enum(target_btf: BTF, local: t.Type, access: str, k: CoreKind) -> Resolution:
    lenum = _strip(local)
    if not isinstance(lenum, t.Enum):
        raise CoreError(f"enum relocation against a {lenum.kind}")
    names = list(lenum.values)
    i = _access(access)[0]
    if i >= len(names):
        raise CoreError(f"enumerator #{i} of enum {lenum.name} does not exist")
    lname = names[i]
    lval = 1 if k == CoreKind.ENUMVAL_EXISTS else lenum.values[lname]
    want = essential_name(lname)
    for cand in _candidates(target_btf, lenum):
        assert isinstance(cand, t.Enum)
        for name, value in cand.values.items():
            if essential_name(name) == want:
                return Resolution(lval, 1 if k == CoreKind.ENUMVAL_EXISTS else value)
    return _missing(k, lval, f"the kernel's enum {essential_name(lenum.name)} has no "
                             f"value {want}")
