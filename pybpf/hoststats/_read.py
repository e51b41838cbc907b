"""Reading a /proc file whole, with "" when it is absent (a kernel without it, a process gone)."""

from __future__ import annotations


def text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def rate(after: float, before: float, seconds: float) -> float:
    """Per second, never negative (a counter that went back, as a device replaced, is 0)."""
    if seconds <= 0:
        return 0.0
    return max(after - before, 0) / seconds
