"""Bucket conversion: le=2^k is a true upper bound, every bucket present, exact count/sum."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.export.buckets import (
    SUM_SLOT,
    cumulative,
    le_bucket_py,
    scaled,
    upper_bound,
)
from tests.util import requires_root


@pytest.mark.parametrize("v,k", [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (1023, 10),
                                 (1024, 10), (1025, 11), (2**32, 32), (2**32 + 1, 33),
                                 (2**63, 63), (2**63 + 1, 64), (2**64 - 1, 64)])
def test_bucket_of_powers_of_two(v: int, k: int) -> None:
    assert le_bucket_py(v) == k


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_bucket_bound_is_a_true_upper_bound(v: int) -> None:
    k = le_bucket_py(v)
    assert v <= 2**k
    assert k == 0 or v > 2 ** (k - 1)  # and the smallest such bound


def test_every_bucket_present_zero_filled() -> None:
    c = cumulative({}, max_bucket=5)
    assert [b for b, _ in c.buckets] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, math.inf]
    assert [n for _, n in c.buckets] == [0] * 7
    assert (c.count, c.sum) == (0, 0)


def test_cumulative_counts_and_exact_sum() -> None:
    values = [0, 1, 2, 3, 4, 5, 8, 9, 1000]
    counts: dict[int, int] = {}
    for v in values:
        counts[le_bucket_py(v)] = counts.get(le_bucket_py(v), 0) + 1
    counts[SUM_SLOT] = sum(values)
    c = cumulative(counts, max_bucket=10)
    for le, n in c.buckets:
        assert n == sum(1 for v in values if v <= le)  # the definition of le
    assert c.count == len(values) == c.buckets[-1][1]
    assert c.sum == sum(values)
    assert isinstance(c.sum, int) and isinstance(c.count, int)


def test_values_above_the_last_bound_only_in_inf() -> None:
    c = cumulative({3: 2, 40: 5, SUM_SLOT: 99}, max_bucket=36)
    assert c.buckets[-2] == (float(2**36), 2)
    assert c.buckets[-1] == (math.inf, 7)
    assert c.count == 7


def test_nanoseconds_to_seconds() -> None:
    assert upper_bound(10, 1e-9) == 1.024e-06
    assert upper_bound(0, 1e-9) == 1e-9
    assert scaled(28628241, 1e-9) == 0.028628241  # divided, not multiplied: no 0.0286...02
    assert scaled(7, 0.5) == 3.5
    c = cumulative({SUM_SLOT: 1_500_000_000, 31: 1}, max_bucket=36, scale=1e-9)
    assert c.sum == 1_500_000_000  # kept exact in the kernel's unit


@requires_root
def test_kernel_bucket_matches_python() -> None:
    from pybpf import bpf, u64
    from pybpf.export.buckets import le_bucket

    @bpf.function
    def bucket(v: u64) -> u64:
        return le_bucket(v)

    edges = [0, 1, 2, 3]
    for k in range(2, 64):
        edges += [2**k - 1, 2**k, 2**k + 1]
    edges += [2**64 - 1]
    try:
        for v in edges:
            assert bucket.run(v) == le_bucket_py(v), v
    finally:
        bucket.close()
