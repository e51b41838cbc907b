"""A compiled function of the histogram-bucket builtins (tests/compiler/test_intrinsics.py)."""

from __future__ import annotations

from pybpf import bpf, linear_bucket, log2_bucket, u64


@bpf.function
def buckets(v: u64, lo: u64, hi: u64, step: u64) -> u64:
    return (log2_bucket(v) << 32) | linear_bucket(v, lo, hi, step)
