"""Ownership of kernel file descriptors: one Python object owns one fd and closes it once."""

from __future__ import annotations

import os

from pybpf.sys.closes import Closes


class FD(Closes):
    """An owned file descriptor. `int(fd)` gives the number; `close()` is idempotent; the
    object is a context manager and closes itself when garbage collected."""

    __slots__ = ("_fd", "__weakref__")

    def __init__(self, fd: int) -> None:
        if fd < 0:
            raise ValueError(f"invalid file descriptor {fd}")
        self._fd = fd

    def __int__(self) -> int:
        return self.fileno()

    def __index__(self) -> int:
        return self.fileno()

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("file descriptor is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __repr__(self) -> str:
        return f"FD({self._fd})" if self._fd >= 0 else "FD(closed)"
