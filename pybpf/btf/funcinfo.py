"""func_info for programs with subprograms that came without BTF of their own.

The verifier wants a struct bpf_func_info record for every subprogram of a program that has
bpf-to-bpf calls or callbacks (a bpf_loop callback is reached through a BPF_PSEUDO_FUNC
ld_imm64): assembled and compiled programs have no compiler BTF, so one is made here, with a
static function `long f(long, long)` per subprogram (static functions' arguments are not
checked against their BTF, only global ones are)."""

from __future__ import annotations

import struct

from pybpf.btf.writer import BTFBuilder

_SLOT = struct.Struct("<BBhi")
_LD_IMM64, _CALL = 0x18, 0x85
_BPF_PSEUDO_CALL, _BPF_PSEUDO_FUNC = 1, 4


def subprogram_starts(code: bytes) -> list[int]:
    """The slot index of every subprogram that `code` calls or takes the address of."""
    starts: set[int] = set()
    for i in range(len(code) // 8):
        op, regs, _off, imm = _SLOT.unpack_from(code, 8 * i)
        src = regs >> 4
        if (op == _LD_IMM64 and src == _BPF_PSEUDO_FUNC) or \
                (op == _CALL and src == _BPF_PSEUDO_CALL):
            starts.add(i + imm + 1)
    starts.discard(0)
    return sorted(starts)


def func_info_btf(starts: list[int]) -> tuple[bytes, bytes]:
    """(raw BTF, func_info records) for a main program at slot 0 and subprograms at
    `starts`."""
    b = BTFBuilder()
    long = b.add_int("long", 8, signed=True)
    proto = b.add_func_proto(long, [("a", long), ("b", long)])
    records = bytearray()
    for n, start in enumerate([0, *starts]):
        func = b.add_func("main" if n == 0 else f"sub{n}", proto, linkage="static")
        records += struct.pack("<II", start, func)
    return b.encode(), bytes(records)


__all__ = ["func_info_btf", "subprogram_starts"]
