"""argparse types of the commands' numeric options: each turns bad text into an
ArgumentTypeError that argparse prints as one usage line."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def int_list(text: str) -> list[int]:
    """"1,2,3" -> [1, 2, 3] (positive numbers only)."""
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of "
                                         "numbers") from None
    if not out or any(v <= 0 for v in out):
        raise argparse.ArgumentTypeError(f"{text!r}: give positive numbers")
    return out
