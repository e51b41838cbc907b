"""Turn one raw type record into its :mod:`pybpf.btf.types` object."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf.btf import format as fmt
from pybpf.btf import types as t
from pybpf.btf.errors import BTFError

if TYPE_CHECKING:
    from pybpf.btf.btf import BTF


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _linkage(names: tuple[str, ...], value: int) -> str:
    return names[value] if value < len(names) else f"linkage({value})"


def decode(btf: BTF, tid: int, words: memoryview, at: int) -> t.Type:
    """Decode the record of type ``tid`` that starts at word ``at`` of ``words``."""
    name_off, info, size = words[at], words[at + 1], words[at + 2]
    kind = (info >> 24) & 0x1F
    vlen = info & 0xFFFF
    kflag = bool(info >> 31)
    name = btf.string(name_off) if name_off else ""
    string = btf.string
    if kind == fmt.KIND_INT:
        return t.Int(btf, tid, name, size, words[at + 3])
    if kind == fmt.KIND_PTR:
        return t.Ptr(btf, tid, name, size)
    if kind == fmt.KIND_ARRAY:
        return t.Array(btf, tid, words[at + 3], words[at + 4], words[at + 5])
    if kind in (fmt.KIND_STRUCT, fmt.KIND_UNION):
        raw = words[at + 3 : at + 3 + 3 * vlen].tolist()
        if kflag:
            members = tuple(
                t.Member(btf, string(raw[i]) if raw[i] else "", raw[i + 1], raw[i + 2] & 0xFFFFFF, raw[i + 2] >> 24)
                for i in range(0, len(raw), 3)
            )
        else:
            members = tuple(
                t.Member(btf, string(raw[i]) if raw[i] else "", raw[i + 1], raw[i + 2], -1)
                for i in range(0, len(raw), 3)
            )
        cls = t.Struct if kind == fmt.KIND_STRUCT else t.Union
        return cls(btf, tid, name, size, members)
    if kind == fmt.KIND_ENUM:
        raw = words[at + 3 : at + 3 + 2 * vlen].tolist()
        conv = _s32 if kflag else int
        values = {string(raw[i]): conv(raw[i + 1]) for i in range(0, len(raw), 2)}
        return t.Enum(btf, tid, name, size, kflag, values)
    if kind == fmt.KIND_ENUM64:
        raw = words[at + 3 : at + 3 + 3 * vlen].tolist()
        values = {}
        for i in range(0, len(raw), 3):
            v = raw[i + 1] | (raw[i + 2] << 32)
            if kflag and v & (1 << 63):
                v -= 1 << 64
            values[string(raw[i])] = v
        return t.Enum64(btf, tid, name, size, kflag, values)
    if kind == fmt.KIND_FWD:
        return t.Fwd(btf, tid, name, kflag)
    if kind == fmt.KIND_TYPEDEF:
        return t.Typedef(btf, tid, name, size)
    if kind == fmt.KIND_VOLATILE:
        return t.Volatile(btf, tid, name, size)
    if kind == fmt.KIND_CONST:
        return t.Const(btf, tid, name, size)
    if kind == fmt.KIND_RESTRICT:
        return t.Restrict(btf, tid, name, size)
    if kind == fmt.KIND_TYPE_TAG:
        return t.TypeTag(btf, tid, name, size, kflag)
    if kind == fmt.KIND_FUNC:
        return t.Func(btf, tid, name, size, _linkage(fmt.FUNC_LINKAGE, vlen))
    if kind == fmt.KIND_FUNC_PROTO:
        raw = words[at + 3 : at + 3 + 2 * vlen].tolist()
        variadic = len(raw) >= 2 and raw[-2] == 0 and raw[-1] == 0
        if variadic:
            raw = raw[:-2]
        params = tuple(t.Param(btf, string(raw[i]) if raw[i] else "", raw[i + 1]) for i in range(0, len(raw), 2))
        return t.FuncProto(btf, tid, size, params, variadic)
    if kind == fmt.KIND_VAR:
        return t.Var(btf, tid, name, size, _linkage(fmt.VAR_LINKAGE, words[at + 3]))
    if kind == fmt.KIND_DATASEC:
        raw = words[at + 3 : at + 3 + 3 * vlen].tolist()
        secinfo = tuple(t.VarSecinfo(btf, raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3))
        return t.Datasec(btf, tid, name, size, secinfo)
    if kind == fmt.KIND_FLOAT:
        return t.Float(btf, tid, name, size)
    if kind == fmt.KIND_DECL_TAG:
        return t.DeclTag(btf, tid, name, size, _s32(words[at + 3]), kflag)
    raise BTFError(f"type #{tid} has unknown kind {kind}")
