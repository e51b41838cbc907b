"""Ending a tool when the process it was given with -p (or the thread of -t) exits, as
bpftrace's -p does: a tool that traced a pid that is gone would wait for events that can no
longer come. A pid that does not exist yet is not watched (bcc's tools filter on a pid that
may appear later)."""

from __future__ import annotations

import os
import select
import sys

_watched: tuple[int, int, str] | None = None  # (pidfd, pid, what to call it)


def watch(pid: int | None, command: str, thread: bool = False) -> None:
    """From now on, :func:`gone` tells when `pid` has exited (nothing is watched for None or
    a pid that is not running)."""
    global _watched
    stop()
    if not pid:
        return
    try:
        # PIDFD_THREAD (Linux 6.9) is O_EXCL; a kernel without it refuses a thread's id
        fd = os.pidfd_open(pid, os.O_EXCL if thread else 0)
    except (OSError, AttributeError):  # not running (yet), or no pidfd: nothing to watch
        return
    what = f"pybpf {command}: {'thread' if thread else 'process'} {pid} exited"
    _watched = (fd, pid, what)


def exited() -> bool:
    """Whether the watched process has exited (a pidfd is readable once it has)."""
    if _watched is None:
        return False
    readable, _, _ = select.select([_watched[0]], [], [], 0)
    return bool(readable)


def gone() -> bool:
    """:func:`exited`, said once on stderr when it is first seen; then nothing is watched."""
    if not exited():
        return False
    assert _watched is not None
    print(_watched[2], file=sys.stderr, flush=True)
    stop()
    return True


def stop() -> None:
    global _watched
    if _watched is not None:
        os.close(_watched[0])
        _watched = None
