"""The maps and structs that generated restricted-Python programs use (created once, at
import: needs root)."""

from __future__ import annotations

from pybpf import bpf, maps, u8, u32, u64


class Pair(bpf.Struct):
    a: u32
    b: u64


class Ev(bpf.Struct):
    pid: u32
    n: u64
    tag: u8


counts = maps.Hash(key=u32, value=u64, max_entries=64, name="fz_counts")
signed = maps.Hash(key=u64, value="s32", max_entries=64, name="fz_signed")
pairs = maps.Hash(key=(u32, u32), value=u64, max_entries=64, name="fz_pairs")
structs = maps.Hash(key=u32, value=Pair, max_entries=64, name="fz_structs")
arr = maps.Array(key=u32, value=u64, max_entries=8, name="fz_arr")
pcpu = maps.PerCPUHash(key=u32, value=u64, max_entries=64, name="fz_pcpu")
ring = maps.RingBuf(4096, name="fz_ring")

ALL = [counts, signed, pairs, structs, arr, pcpu]
