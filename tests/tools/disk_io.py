"""Real block I/O for the block tools: O_DIRECT writes on the disk under /var/tmp."""

from __future__ import annotations

import mmap
import os


def disk_of(path: str) -> str:
    """The whole-disk name holding `path` (vda for a file on vda1)."""
    st = os.stat(path)
    sysdir = os.path.realpath(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    if os.path.exists(os.path.join(sysdir, "partition")):
        sysdir = os.path.dirname(sysdir)
    return os.path.basename(sysdir)


def direct_writes(directory: str = "/var/tmp", count: int = 64, size: int = 4096) -> str:
    """`count` synchronous O_DIRECT writes of `size` bytes; returns the file's disk name."""
    path = os.path.join(directory, f"pybpf-bio-{os.getpid()}")
    buf = mmap.mmap(-1, size)  # page aligned, as O_DIRECT wants
    buf.write(b"p" * size)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_DIRECT | os.O_SYNC, 0o600)
    try:
        for i in range(count):
            os.pwrite(fd, buf, i * size)
    finally:
        os.close(fd)
        disk = disk_of(path)
        os.unlink(path)
    return disk
