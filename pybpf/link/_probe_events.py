"""Legacy kprobe/uprobe creation through tracefs (kprobe_events / uprobe_events), for kernels
whose perf kprobe/uprobe PMUs are missing. Each probe gets a unique name in the "pybpf"
group and is removed again when its Link closes."""

from __future__ import annotations

import errno
import itertools
import os
import time
from collections.abc import Callable

from pybpf.link._tracefs import tracefs_file, tracepoint_id
from pybpf.sys import error_from_errno

GROUP = "pybpf"
_counter = itertools.count()


def events_file(kind: str) -> str:
    return tracefs_file(f"{kind}_events")


def available(kind: str) -> bool:
    """True when tracefs offers <kind>_events (kind: "kprobe" or "uprobe")."""
    try:
        return os.path.exists(events_file(kind))
    except OSError:  # no tracefs at all (TracefsError is an OSError)
        return False


def _write(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def add(kind: str, retprobe: bool, spec: str) -> tuple[int, Callable[[], None], str]:
    """Create a probe: (tracepoint id, remover, event name)."""
    name = f"{kind[0]}{'r' if retprobe else 'p'}_{os.getpid()}_{next(_counter)}"
    path = events_file(kind)
    try:
        _write(path, f"{'r' if retprobe else 'p'}:{GROUP}/{name} {spec}\n")
    except OSError as e:
        if e.errno == errno.ENOENT:
            from pybpf.link.errors import UnknownTargetError

            raise UnknownTargetError(f"cannot create {kind} at {spec}: no such function or "
                                     "file", e.errno) from None
        raise error_from_errno(e.errno or errno.EINVAL, f"creating {kind} at {spec}") from None

    def remove() -> None:
        for delay in (0.0, 0.01, 0.05, 0.2):  # the event may be busy for a moment after close
            time.sleep(delay)
            try:
                _write(path, f"-:{GROUP}/{name}\n")
                return
            except OSError as e:
                if e.errno != errno.EBUSY:
                    return

    try:
        return tracepoint_id(GROUP, name), remove, name
    except BaseException:
        remove()
        raise
