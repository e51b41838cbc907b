"""Shared memory mappings of kernel rings, with failures turned into RingMmapError."""

from __future__ import annotations

import errno
import mmap

from pybpf.events.errors import RingMmapError

PAGE_SIZE = mmap.PAGESIZE


def map_shared(fd: int, length: int, offset: int, writable: bool, what: str) -> mmap.mmap:
    """mmap(NULL, length, PROT_READ[|PROT_WRITE], MAP_SHARED, fd, offset)."""
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
    try:
        return mmap.mmap(fd, length, flags=mmap.MAP_SHARED, prot=prot, offset=offset)
    except OSError as err:
        hint = {
            errno.EPERM: "the kernel refused the mapping (needs root or CAP_BPF/CAP_PERFMON, "
                         "or the perf_event_mlock_kb limit is reached: close other readers or "
                         "use fewer pages)",
            errno.ENOMEM: "out of memory or over the locked-memory limit (RLIMIT_MEMLOCK / "
                          "perf_event_mlock_kb): use a smaller ring",
            errno.EINVAL: "the size or offset does not match the ring (the data size must be "
                          "a power-of-two number of pages)",
        }.get(err.errno or 0, err.strerror or "unknown error")
        raise RingMmapError(f"could not map {what} ({length} bytes at offset {offset}): {hint}",
                            err.errno or 0) from err


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0
