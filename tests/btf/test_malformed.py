"""Malformed BTF gives BTFError with a sentence, never IndexError/struct.error/RecursionError."""

from __future__ import annotations

import random
import struct

import pytest

from pybpf.btf import BTF, BTFError
from pybpf.btf import types as t
from pybpf.btf.format import HEADER
from pybpf.btf.writer import BTFBuilder
from tests.btf.test_synthetic import build_all_kinds


def good() -> bytes:
    b = BTFBuilder()
    i = b.add_int("int", 4, signed=True)
    b.add_struct("pair", 8, [("a", i, 0), ("b", i, 32)])
    return b.encode()


def header(data: bytes) -> list[int]:
    return list(HEADER.unpack_from(data))


def with_header(data: bytes, **changes: int) -> bytes:
    names = ["magic", "version", "flags", "hdr_len", "type_off", "type_len", "str_off", "str_len"]
    values = header(data)
    for k, v in changes.items():
        values[names.index(k)] = v
    return HEADER.pack(*values) + data[HEADER.size :]


def test_good_blob_parses():
    btf = BTF.from_bytes(good())
    assert btf.struct("pair").size == 8


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "truncated"),
        (b"\x9f\xeb\x01\x00", "truncated"),
        (b"\x00" * 24, "bad magic"),
        (with_header(good(), magic=0x9FEB), "big-endian"),
        (with_header(good(), version=2), "version"),
        (with_header(good(), hdr_len=8), "header length"),
        (with_header(good(), hdr_len=1 << 20), "header length"),
        (with_header(good(), type_len=1 << 20), "type section"),
        (with_header(good(), str_len=1 << 20), "string section"),
        (with_header(good(), type_off=2), "aligned"),
        (good()[:-3], "string section"),
        (good()[:40], "runs past the end"),
    ],
)
def test_bad_headers_and_truncation(data, message):
    with pytest.raises(BTFError, match=message):
        BTF.from_bytes(data)


def test_strings_not_nul_terminated():
    data = good()
    with pytest.raises(BTFError, match="NUL"):
        BTF.from_bytes(data[:-1] + b"x")
    hdr = header(data)
    first_str = hdr[3] + hdr[6]
    bad = bytearray(data)
    bad[first_str] = ord("x")
    with pytest.raises(BTFError, match="empty string"):
        BTF.from_bytes(bytes(bad))


def test_unknown_kind():
    b = BTFBuilder()
    b.add_int("int", 4)
    b.add_raw([0, 25 << 24, 0])
    with pytest.raises(BTFError, match="unknown kind 25"):
        BTF.from_bytes(b.encode())
    b = BTFBuilder()
    b.add_raw([0, 0, 0])
    with pytest.raises(BTFError, match="unknown kind 0"):
        BTF.from_bytes(b.encode())


def test_huge_vlen():
    b = BTFBuilder()
    i = b.add_int("int", 4)
    b.add_raw([b.string("big"), (4 << 24) | 0xFFFF, 8, b.string("a"), i, 0])
    with pytest.raises(BTFError, match=r"type #2: a struct record with vlen 65535 .* runs past the end"):
        BTF.from_bytes(b.encode())


def test_bad_string_offsets():
    b = BTFBuilder()
    b.add_raw([10_000, 1 << 24, 4, 32])  # int whose name is far outside
    i = b.add_int("int", 4)
    b.add_raw([b.string("s"), 4 << 24 | 1, 4, 99_999, i, 0])  # member name outside
    btf = BTF.from_bytes(b.encode())
    with pytest.raises(BTFError, match="string offset 10000 is outside"):
        btf.type_by_id(1)
    with pytest.raises(BTFError, match="string offset 99999"):
        btf.type_by_id(3)
    assert btf.type_by_id(2).name == "int"  # the rest is still readable


def test_bad_type_references():
    b = BTFBuilder()
    p = b.add_ptr(500)
    s = b.add_struct("s", 8, [("p", p, 0), ("q", 900, 64)])
    btf = BTF.from_bytes(b.encode())
    with pytest.raises(BTFError, match="type id 500 is out of range"):
        _ = btf.type_by_id(p).target
    with pytest.raises(BTFError, match="900"):
        btf.member("s", "q")
    with pytest.raises(BTFError):
        str(btf.type_by_id(s).members[0])


def test_loops_are_reported_not_hanging():
    b = BTFBuilder()
    b.add_typedef("a", 2)
    b.add_typedef("b", 1)
    p = b.add_ptr(4)
    b.add_ptr(p)
    s = b.add_struct("self", 8, [("", 5, 0)])  # anonymous member of its own type
    btf = BTF.from_bytes(b.encode())
    with pytest.raises(BTFError, match="loop"):
        btf.find("a").resolve()
    with pytest.raises(BTFError):
        btf.sizeof("a")
    assert "<loop>" in str(btf.type_by_id(p))
    with pytest.raises(KeyError):
        btf.type_by_id(s).member("nothing")
    assert list(btf.type_by_id(s).member_names()) == []


def exercise(btf: BTF) -> None:
    """Use every part of the API on every type; only BTFError may come out."""
    for tid in range(len(btf)):
        try:
            ty = btf.type_by_id(tid)
            str(ty)
            repr(ty)
            ty.resolve()
            if isinstance(ty, t.Composite):
                for m in ty.members:
                    str(m)
                    _ = m.bitfield_size
                ty.definition()
                list(ty.member_names())
                if ty.name:
                    btf.find(ty.name)
            if isinstance(ty, (t.Int, t.Composite, t.Array, t.Ptr, t.Typedef)):
                btf.sizeof(ty)
        except BTFError:
            pass


def test_fuzz_truncations_and_flips():
    data, _ = build_all_kinds()
    blob = data._data
    rng = random.Random(1234)
    outcomes = {"ok": 0, "error": 0}
    for n in range(1500):
        mutated = bytearray(blob)
        if n % 3 == 0:
            mutated = mutated[: rng.randrange(len(blob))]
        else:
            for _ in range(rng.randint(1, 6)):
                pos = rng.randrange(len(mutated))
                mutated[pos] = rng.randrange(256)
        try:
            btf = BTF.from_bytes(bytes(mutated))
        except BTFError as e:
            assert str(e)
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        exercise(btf)
    assert outcomes["ok"] > 100 and outcomes["error"] > 100


def test_fuzz_random_words():
    rng = random.Random(99)
    for _ in range(400):
        b = BTFBuilder()
        b.string("name")
        for _ in range(rng.randint(1, 6)):
            kind = rng.randint(1, 19)
            vlen = rng.choice([0, 1, 2, 3, 0xFFFF])
            words = [rng.choice([0, 1, 5, 1 << 20]), (rng.randint(0, 1) << 31) | kind << 24 | vlen, rng.randint(0, 12)]
            words += [rng.choice([0, 1, 2, 3, 7, 1 << 24, 0xFFFFFFFF]) for _ in range(rng.randint(0, 9))]
            b.add_raw(words)
        try:
            btf = BTF.from_bytes(b.encode())
        except BTFError:
            continue
        exercise(btf)


def test_struct_error_never_escapes():
    # a header that claims a huge string section but is 24 bytes long
    data = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 0, 0, 100)
    with pytest.raises(BTFError, match="string section"):
        BTF.from_bytes(data)
