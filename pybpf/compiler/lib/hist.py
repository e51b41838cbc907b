"""Histograms filled in the kernel, printed by `pybpf.output.hist`.

    lat = maps.Hash(key=(u32, u64), value=u64)     # (key, bucket) -> count
    hist.log2(lat, pid(), delta_ns)

    flat = maps.Hash(key=u64, value=u64)           # bucket -> count
    hist.log2_value(flat, delta_ns)

Bucket numbering (as bpftrace's hist()): bucket 0 holds 0, bucket k >= 1 holds values in
[2^(k-1), 2^k), so a value of exactly 2^j lands in bucket j + 1. `log2_bucket(v)` and
`linear_bucket(v, lo, hi, step)` are builtins (compiler.intrinsics builds them, as for the
one-liners' hist() and lhist()).
"""

from __future__ import annotations

from typing import Any

from pybpf import bpf
from pybpf.compiler.runtime import linear_bucket, log2_bucket
from pybpf.types import u64


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


__all__ = ["linear", "linear_bucket", "log2", "log2_bucket", "log2_value"]
