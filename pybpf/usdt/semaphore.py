"""USDT semaphores: the counters a probe site checks before it spends time on its arguments
(`if (PROVIDER_NAME_ENABLED()) ...`). A probe guarded by one fires only while the counter is
non-zero.

The kernel keeps them itself when a uprobe is created with a `ref_ctr_offset` (the uprobe
PMU's `config:32-63` format field, Linux 4.20+): it raises the counter in every process that
maps the file, including those started later, and lowers it when the probe goes. That is what
`pybpf.link.usdt` uses. `ProcessSemaphore` is the fallback for kernels without it: it raises
the counter of one running process through /proc/PID/mem and lowers it on close, as bcc did
before the kernel learned to.
"""

from __future__ import annotations

import os
import struct

from pybpf.usdt.errors import UsdtError

_REF_CTR_FORMAT = "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset"


def kernel_counts_semaphores() -> bool:
    """Whether the uprobe PMU takes a ref_ctr_offset (the kernel keeps semaphores)."""
    return os.path.exists(_REF_CTR_FORMAT)


def semaphore_address(pid: int, path: str, file_offset: int) -> int:
    """The address of the semaphore at `file_offset` of `path` in process `pid`'s memory."""
    real = os.path.realpath(path)
    st = os.stat(real)
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = f.readlines()
    except OSError as e:
        raise UsdtError(f"cannot read the mappings of process {pid}: {e.strerror}") from None
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        span, _, pgoff, dev, inode, name = parts
        if int(inode) != st.st_ino or os.path.realpath(name.strip()) != real:
            continue
        lo, hi = (int(x, 16) for x in span.split("-"))
        start = int(pgoff, 16)
        if start <= file_offset < start + (hi - lo):
            return lo + file_offset - start
    raise UsdtError(f"process {pid} does not map the semaphore at offset 0x{file_offset:x} "
                    f"of {path}")


class ProcessSemaphore:
    """Raise a USDT semaphore (a u16) of one process while this object is open."""

    def __init__(self, pid: int, path: str, file_offset: int) -> None:
        self.pid = pid
        self.address = semaphore_address(pid, path, file_offset)
        self._add(1)
        self.closed = False

    def _add(self, delta: int) -> None:
        try:
            fd = os.open(f"/proc/{self.pid}/mem", os.O_RDWR)
        except OSError as e:
            raise UsdtError(f"cannot open the memory of process {self.pid} to raise a USDT "
                            f"semaphore: {e.strerror}") from None
        try:
            (count,) = struct.unpack("<H", os.pread(fd, 2, self.address))
            os.pwrite(fd, struct.pack("<H", max(0, min(0xFFFF, count + delta))), self.address)
        except OSError as e:
            raise UsdtError(f"cannot change the USDT semaphore of process {self.pid}: "
                            f"{e.strerror}") from None
        finally:
            os.close(fd)

    def value(self) -> int:
        fd = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY)
        try:
            return struct.unpack("<H", os.pread(fd, 2, self.address))[0]
        finally:
            os.close(fd)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._add(-1)
        except UsdtError:
            pass  # the process has exited: nothing to lower

    def __enter__(self) -> ProcessSemaphore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ProcessSemaphore", "kernel_counts_semaphores", "semaphore_address"]
