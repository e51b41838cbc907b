"""Type specs and their byte codecs (no kernel needed)."""

from __future__ import annotations

import ctypes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.types import codec, s8, s16, s32, s64, u8, u16, u32, u64


@pytest.mark.parametrize("spec,size", [
    ("u8", 1), ("u16", 2), ("u32", 4), ("u64", 8), ("s8", 1), ("s64", 8), ("__u32", 4),
    ("unsigned int", 4), ("char[16]", 16), ("u8[6]", 6), ("u32[3]", 12), (u64, 8), (s16, 2),
    (ctypes.c_char * 4, 4), (7, 7),
])
def test_sizes(spec, size):
    assert codec(spec).size == size


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_integers_wrap_like_c(value):
    for ctype, bits, signed in ((u8, 8, False), (u16, 16, False), (u32, 32, False),
                                (u64, 64, False), (s8, 8, True), (s16, 16, True),
                                (s32, 32, True), (s64, 64, True)):
        c = codec(ctype)
        got = c.unpack(c.pack(value))
        assert got == ctype(value).value, (ctype, value)
        assert got == _c_wrap(value, bits, signed)


def _c_wrap(value: int, bits: int, signed: bool) -> int:
    value &= (1 << bits) - 1
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def test_char_array_reads_back_nul_trimmed_str():
    c = codec("char[8]")
    assert c.pack("bash") == b"bash\0\0\0\0"
    assert c.unpack(b"bash\0xyz") == "bash"
    with pytest.raises(ValueError, match="longer than 8 bytes"):
        c.pack("a" * 9)


def test_struct_round_trip():
    class Event(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]

    c = codec(Event)
    assert c.size == 20
    raw = c.pack({"pid": 7, "comm": b"sh"})
    ev = c.unpack(raw)
    assert (ev.pid, ev.comm) == (7, b"sh")
    assert c.pack((7, b"sh")) == raw


def test_tuple_array():
    c = codec("u16[3]")
    assert c.unpack(c.pack([1, 2, 65535])) == (1, 2, 65535)
    with pytest.raises(ValueError, match="need 3 items"):
        c.pack([1])


@pytest.mark.parametrize("bad", ["u7", "float", "char[0]", object(), 1.5])
def test_unknown_types_are_clear(bad):
    with pytest.raises(TypeError, match="unknown type|positive length"):
        codec(bad)
