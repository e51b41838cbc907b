"""Waiting for kernel wakeups on a set of fds (epoll), and the poll-with-timeout loop that
both readers share."""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


class Waiter:
    """An epoll instance over the reader's fds (level-triggered, EPOLLIN)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def add(self, fd: int) -> None:
        self._epoll.register(fd, select.EPOLLIN)

    def wait(self, timeout_ms: float) -> None:
        """Block until one fd is ready or `timeout_ms` passes (-1 waits forever).
        EINTR is retried by Python (PEP 475)."""
        self._epoll.poll(-1 if timeout_ms < 0 else timeout_ms / 1000.0)

    def fileno(self) -> int:
        return self._epoll.fileno()

    @property
    def closed(self) -> bool:
        return self._epoll.closed

    def close(self) -> None:
        self._epoll.close()


def poll_batches(consume: Callable[[], list[T]], waiter: Waiter, timeout_ms: float) -> list[T]:
    """Return what `consume()` gives; when that is nothing, wait for a wakeup and try again,
    until something arrives or `timeout_ms` has passed (0: never wait, -1: wait forever)."""
    batch = consume()
    if batch or timeout_ms == 0:
        return batch
    deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000.0
    while True:
        if deadline is None:
            waiter.wait(-1)
        else:
            left = (deadline - time.monotonic()) * 1000.0
            if left <= 0:
                return consume()
            waiter.wait(left)
        batch = consume()
        if batch:
            return batch
        if deadline is not None and time.monotonic() >= deadline:
            return batch


def iterate(poll: Callable[[float], list[T]], closed: Callable[[], bool],
            timeout_ms: float) -> Iterator[T]:
    """Yield records from successive `poll(timeout_ms)` batches; stop when one poll times out
    with nothing (never, for -1) or the reader is closed."""
    while not closed():
        batch = poll(timeout_ms)
        if not batch:
            if timeout_ms >= 0:
                return
            continue
        yield from batch
