"""Histogram buckets whose bounds are Prometheus upper bounds.

In the kernel, `observe(m, key, v)` adds one to `m[key, le_bucket(v)]` and `v` to
`m[key, SUM_SLOT]`. Bucket k holds the values v with 2^(k-1) < v <= 2^k (bucket 0 holds 0 and
1), so its Prometheus bound `le="2^k"` (times the unit scale) is a true upper bound: a value of
exactly 2^k counts in `le=2^k`, as Prometheus's `le` ("less than or equal") says. This differs
from `pybpf.compiler.lib.hist.log2_bucket` (bpftrace's numbering, [2^(k-1), 2^k)), whose bounds
are exclusive and would put 2^k one bucket too high.

In user space `cumulative()` turns the kernel's per-bucket counts into Prometheus's cumulative
buckets: every bound from 2^0 to 2^max_bucket is present (zero-filled), values above the last
bound are counted only by `+Inf`, `_count` is the exact integer number of observations (the sum
of all buckets, so it always equals the `+Inf` bucket) and `_sum` the exact integer sum of the
values in the kernel's unit, multiplied by the scale (1e-9 for nanoseconds to seconds) only when
written out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pybpf import bpf
from pybpf.compiler.lib.hist import log2_bucket
from pybpf.types import u64

SUM_SLOT = 255  # the bucket index under which the kernel keeps the sum of the values
MAX_BUCKET = 64  # 2^64 bounds every u64


@bpf.inline
def le_bucket(v: u64) -> u64:
    """The smallest k with v <= 2^k (0 for 0 and 1): ceil(log2(v)) = floor(log2(v - 1)) + 1,
    which is hist's log2 bucket of v - 1."""
    if v <= 1:
        return 0
    return log2_bucket(v - 1)


@bpf.inline
def observe0(m: Any, value: u64) -> u64:
    """A histogram without labels: m[le_bucket(value)] += 1, m[SUM_SLOT] += value."""
    m[le_bucket(value)] += 1
    m[SUM_SLOT] += value
    return 0


@bpf.inline
def observe(m: Any, key: Any, value: u64) -> u64:
    """One label: m[key, le_bucket(value)] += 1 and m[key, SUM_SLOT] += value."""
    m[key, le_bucket(value)] += 1
    m[key, SUM_SLOT] += value
    return 0


@bpf.inline
def observe2(m: Any, k1: Any, k2: Any, value: u64) -> u64:
    """Two labels: m[k1, k2, bucket] (tuples cannot be passed to inline functions)."""
    m[k1, k2, le_bucket(value)] += 1
    m[k1, k2, SUM_SLOT] += value
    return 0


@bpf.inline
def observe3(m: Any, k1: Any, k2: Any, k3: Any, value: u64) -> u64:
    """Three labels: m[k1, k2, k3, bucket]."""
    m[k1, k2, k3, le_bucket(value)] += 1
    m[k1, k2, k3, SUM_SLOT] += value
    return 0


def le_bucket_py(v: int) -> int:
    """The same bucket, in Python (the reference the tests compare the kernel's with)."""
    return 0 if v <= 1 else (v - 1).bit_length()


def scaled(v: int, scale: float = 1.0) -> float:
    """An integer in the kernel's unit in the exported one: divided by 1/scale when that is a
    whole number (1e-9: v / 10^9, the correctly rounded float), else multiplied."""
    inv = round(1 / scale) if scale else 0
    if inv >= 1 and abs(inv * scale - 1) < 1e-12:
        return v / inv
    return v * scale


def upper_bound(k: int, scale: float = 1.0) -> float:
    """The `le` bound of bucket k in the exported unit: 2^k scaled."""
    return scaled(1 << k, scale)


@dataclass
class Cumulative:
    buckets: list[tuple[float, int]]  # (le, cumulative count), +Inf last
    count: int
    sum: int  # in the kernel's unit (exact)


def cumulative(counts: Mapping[int, int], max_bucket: int = MAX_BUCKET,
               scale: float = 1.0) -> Cumulative:
    """Per-bucket counts {k: n} (SUM_SLOT holding the sum) to cumulative Prometheus buckets
    le=2^0..2^max_bucket and +Inf, every one present."""
    total = 0
    out: list[tuple[float, int]] = []
    per = [0] * (max_bucket + 1)
    above = 0
    for k, n in counts.items():
        if k == SUM_SLOT:
            continue
        if 0 <= k <= max_bucket:
            per[k] += n
        else:
            above += n
    for k in range(max_bucket + 1):
        total += per[k]
        out.append((upper_bound(k, scale), total))
    total += above
    out.append((float("inf"), total))
    return Cumulative(out, total, int(counts.get(SUM_SLOT, 0)))


__all__ = ["MAX_BUCKET", "SUM_SLOT", "Cumulative", "cumulative", "le_bucket", "le_bucket_py",
           "observe", "observe0", "observe2", "observe3", "scaled", "upper_bound"]
