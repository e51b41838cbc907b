"""Histograms printed the way bcc prints them (`usecs : count distribution` with stars).

Buckets come from the kernel in pybpf's numbering (see pybpf.compiler.lib.hist): bucket 0 holds
the value 0, bucket k >= 1 holds [2^(k-1), 2^k). bcc shows bucket k as "2^(k-1) -> 2^k - 1" and
folds 0 into its first row ("0 -> 1")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STARS_MAX = 40


def stars(val: int, val_max: int, width: int) -> str:
    """`val` as a bar of at most `width` stars relative to `val_max` ('+' when it overflows)."""
    if val_max <= 0:
        return ""
    n = 0
    while n <= width * val / val_max - 1 and n <= width - 1:
        n += 1
    text = "*" * n
    if val > val_max:
        text = text[:-1] + "+"
    return text


def bcc_log2_values(buckets: Mapping[int, int]) -> list[int]:
    """The counts indexed as bcc does (index k covers [2^(k-1), 2^k - 1], index 1 also holds
    zero)."""
    top = max((k for k, v in buckets.items() if v), default=0)
    vals = [0] * (max(top, 1) + 1)
    for k, v in buckets.items():
        vals[max(k, 1)] += v
    return vals


def log2_bounds(i: int) -> tuple[int, int]:
    """The (low, high) shown for bcc index i >= 1 (both inclusive)."""
    low, high = (1 << i) >> 1, (1 << i) - 1
    if low == high:
        low -= 1
    return low, high


def log2_lines(buckets: Mapping[int, int], unit: str = "value",
               strip_leading_zero: bool = False) -> list[str]:
    """bcc's print_log2_hist: the header and one row per bucket up to the last non-empty one
    (nothing for an empty histogram)."""
    vals = bcc_log2_values(buckets)
    idx_max = max((i for i, v in enumerate(vals) if v > 0), default=-1)
    val_max = max(vals, default=0)
    if idx_max <= 32:
        header, width, num = f"     {unit:<19} : count     distribution", STARS_MAX, 10
    else:
        header, width, num = f"               {unit:<29} : count     distribution", STARS_MAX // 2, 20
    out: list[str] = []
    if idx_max > 0:
        out.append(header)
    for i in range(1, idx_max + 1):
        val = vals[i]
        if strip_leading_zero and not val:
            continue
        strip_leading_zero = False
        low, high = log2_bounds(i)
        out.append(f"{low:>{num}} -> {high:<{num}} : {val:<8} |{stars(val, val_max, width):<{width}}|")
    return out


def linear_lines(buckets: Mapping[int, int], unit: str = "value",
                 strip_leading_zero: bool = False) -> list[str]:
    """bcc's print_linear_hist: one row per value from 0 to the largest non-empty one."""
    idx_max = max((k for k, v in buckets.items() if v > 0), default=-1)
    val_max = max(buckets.values(), default=0)
    out: list[str] = []
    if idx_max >= 0:
        out.append(f"     {unit:<13} : count     distribution")
    for i in range(0, idx_max + 1):
        val = buckets.get(i, 0)
        if strip_leading_zero and not val:
            continue
        strip_leading_zero = False
        out.append(f"        {i:<10} : {val:<8} |{stars(val, val_max, STARS_MAX):<{STARS_MAX}}|")
    return out


def log2_json(buckets: Mapping[int, int], unit: str) -> dict[str, Any]:
    """A histogram as JSON: the unit and its non-empty buckets with inclusive bounds."""
    vals = bcc_log2_values(buckets)
    rows = []
    for i in range(1, len(vals)):
        if vals[i]:
            low, high = log2_bounds(i)
            rows.append({"low": low, "high": high, "count": vals[i]})
    return {"unit": unit, "buckets": rows}


def split_keyed(counts: Mapping[Any, int]) -> dict[Any, dict[int, int]]:
    """{(key, bucket): count} -> {key: {bucket: count}}."""
    out: dict[Any, dict[int, int]] = {}
    for (key, bucket), n in counts.items():
        per = out.setdefault(key, {})
        per[bucket] = per.get(bucket, 0) + n
    return out
