"""Decode every type of the kernel's BTF once and compare each with bpftool's decoding."""

from __future__ import annotations

from collections import Counter

from pybpf.btf import BTFError
from pybpf.btf import types as t
from tests.btf.refdump import RefType, num

_INT_ENC = {"(none)": 0, "SIGNED": 1, "CHAR": 2, "BOOL": 4}


def test_counts_by_kind_match_bpftool(kbtf, ref):
    expected = Counter(r.kind.lower() for r in ref.values())
    assert kbtf.kind_counts() == dict(expected)
    assert len(kbtf) == max(ref) + 1
    assert set(expected) >= {"int", "ptr", "struct", "union", "enum", "func", "func_proto"}


def _check(ty: t.Type, r: RefType) -> None:
    a = r.attrs
    assert ty.kind == r.kind.lower() and ty.name == r.name, (ty, r)
    if isinstance(ty, t.Int):
        assert (ty.size, ty.bits, ty.bit_offset) == (int(a["size"]), int(a["nr_bits"]), int(a["bits_offset"]))
        assert ty.encoding == _INT_ENC[a["encoding"]]
    elif isinstance(ty, (t.Ptr, t.Modifier)):
        assert ty.target_id == int(a["type_id"])
    elif isinstance(ty, t.Array):
        assert (ty.elem_id, ty.index_id, ty.nelems) == (int(a["type_id"]), int(a["index_type_id"]), int(a["nr_elems"]))
    elif isinstance(ty, t.Composite):
        assert ty.size == int(a["size"]) and len(ty.members) == int(a["vlen"])
        for m, (name, ma) in zip(ty.members, r.items, strict=True):
            assert (m.name, m.type_id, m.bit_offset) == (name, int(ma["type_id"]), int(ma["bits_offset"]))
            assert m.bitfield_size == int(ma.get("bitfield_size", 0))
    elif isinstance(ty, t.Enum):
        assert ty.size == int(a["size"]) and ty.signed == (a["encoding"] == "SIGNED")
        assert list(ty.values.items()) == [(n, num(ia["val"])) for n, ia in r.items]
    elif isinstance(ty, t.Fwd):
        assert ty.is_union == (a["fwd_kind"] == "union")
    elif isinstance(ty, t.Func):
        assert ty.proto_id == int(a["type_id"]) and ty.linkage == a["linkage"]
    elif isinstance(ty, t.FuncProto):
        assert ty.ret_id == int(a["ret_type_id"])
        params = [(p.name, p.type_id) for p in ty.params] + ([("", 0)] if ty.variadic else [])
        assert params == [(n, int(ia["type_id"])) for n, ia in r.items]
    elif isinstance(ty, t.Var):
        assert ty.type_id == int(a["type_id"]) and ty.linkage == a["linkage"]
    elif isinstance(ty, t.Datasec):
        assert ty.size == int(a["size"])
        got = [(v.type_id, v.offset, v.size) for v in ty.vars]
        assert got == [(int(ia["type_id"]), int(ia["offset"]), int(ia["size"])) for _, ia in r.items]
    elif isinstance(ty, t.Float):
        assert ty.size == int(a["size"])
    elif isinstance(ty, t.DeclTag):
        assert (ty.target_id, ty.component_idx) == (int(a["type_id"]), int(a["component_idx"]))
    else:  # pragma: no cover
        raise AssertionError(f"unexpected type {ty!r}")


def test_every_type_decodes_like_bpftool(kbtf, ref):
    seen = Counter()
    for ty in kbtf.types():
        _check(ty, ref[ty.id])
        seen[ty.kind] += 1
        text = str(ty)  # renders without error
        assert isinstance(text, str)
        if isinstance(ty, (t.Int, t.Composite, t.Enum, t.Ptr, t.Float)):
            assert kbtf.sizeof(ty) >= 0
    assert sum(seen.values()) == len(ref)
    from pybpf.btf.btf import CACHE_LIMIT

    assert len(kbtf._types) <= CACHE_LIMIT  # memory stays bounded after a full walk


def test_sizeof_matches_struct_size_for_arrays_and_typedefs(kbtf, ref):
    checked = 0
    for r in ref.values():
        if r.kind == "ARRAY" and checked < 2000:
            ty = kbtf.type_by_id(r.id)
            try:
                elem = kbtf.sizeof(ty.elem)
            except BTFError:
                continue
            assert kbtf.sizeof(ty) == elem * ty.nelems
            checked += 1
    assert checked > 100
