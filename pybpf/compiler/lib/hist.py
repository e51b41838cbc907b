"""Histograms filled in the kernel, printed by `pybpf.output.hist`.

    lat = maps.Hash(key=(u32, u64), value=u64)     # (key, bucket) -> count
    hist.log2(lat, pid(), delta_ns)

    flat = maps.Hash(key=u64, value=u64)           # bucket -> count
    hist.log2_value(flat, delta_ns)

Bucket numbering (as bpftrace's hist()): bucket 0 holds 0, bucket k >= 1 holds values in
[2^(k-1), 2^k), so a value of exactly 2^j lands in bucket j + 1.
"""

from __future__ import annotations

from typing import Any

from pybpf import bpf
from pybpf.types import u64


@bpf.inline
def log2_bucket(v: u64) -> u64:
    """0 for 0, else floor(log2(v)) + 1 (branch-free binary search, 6 steps)."""
    if v == 0:
        return 0
    r: u64 = 1
    if v >= 1 << 32:
        v = v >> 32
        r += 32
    if v >= 1 << 16:
        v = v >> 16
        r += 16
    if v >= 1 << 8:
        v = v >> 8
        r += 8
    if v >= 1 << 4:
        v = v >> 4
        r += 4
    if v >= 1 << 2:
        v = v >> 2
        r += 2
    if v >= 1 << 1:
        r += 1
    return r


@bpf.inline
def linear_bucket(v: u64, lo: u64, hi: u64, step: u64) -> u64:
    """0 below `lo`, 1 + (v - lo) // step inside [lo, hi), the last bucket at or above hi."""
    if v < lo:
        return 0
    if v >= hi:
        return (hi - lo) // step + 1
    return (v - lo) // step + 1


@bpf.inline
def log2(m: Any, key: Any, value: u64) -> u64:
    """m[key, log2_bucket(value)] += 1"""
    m[key, log2_bucket(value)] += 1
    return 0


@bpf.inline
def log2_value(m: Any, value: u64) -> u64:
    """m[log2_bucket(value)] += 1"""
    m[log2_bucket(value)] += 1
    return 0


@bpf.inline
def linear(m: Any, key: Any, value: u64, lo: u64, hi: u64, step: u64) -> u64:
    """m[key, linear_bucket(value, lo, hi, step)] += 1"""
    m[key, linear_bucket(value, lo, hi, step)] += 1
    return 0


def bucket_bounds(k: int) -> tuple[int, int]:
    """The value range [lo, hi) of log2 bucket k."""
    return (0, 1) if k == 0 else (1 << (k - 1), 1 << k)
