"""The events package's own exception: a ring that could not be mapped into memory."""

from __future__ import annotations

from pybpf.sys import BPFError


class RingMmapError(BPFError):
    """mmap(2) of a ring buffer or perf buffer failed. The message says which ring, which part
    of it, and the usual cause (locked-memory limit, a map not created by this kernel as
    mmap-able, or a size that is not a power-of-two number of pages)."""
