"""tracefs for the link layer: where it is mounted, tracepoint ids, and probe event files.

Uses pybpf.btf.tracefs when that module is present; otherwise a small local version that
mounts tracefs at /sys/kernel/tracing when nothing is mounted."""

from __future__ import annotations

import ctypes
import functools
import os

from pybpf.link.errors import UnknownTargetError
from pybpf.sys import error_from_errno

_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


def _mounted_tracefs() -> str | None:
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2] == "tracefs":
                    return parts[1]
    except OSError:
        pass
    for path in _CANDIDATES:
        if os.path.exists(os.path.join(path, "events")):
            return path
    return None


@functools.cache
def _local_root() -> str:
    found = _mounted_tracefs()
    if found:
        return found
    target = _CANDIDATES[0]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"nodev", target.encode(), b"tracefs", 0, None) != 0:
        err = ctypes.get_errno()
        raise error_from_errno(err, f"mounting tracefs at {target} (needed for tracepoints)")
    return target


def tracefs_root() -> str:
    """The tracefs mount point (mounted on first use when needed)."""
    try:
        from pybpf.btf import tracefs as shared  # type: ignore[attr-defined]
    except ImportError:
        return _local_root()
    return str(shared.tracefs_root())


def tracepoint_id(group: str, name: str) -> int:
    """The perf event id of tracepoint group:name; UnknownTargetError naming it (and near
    names) when it does not exist."""
    if not group or not name or "/" in group + name or ".." in (group, name):
        raise UnknownTargetError(f"invalid tracepoint name {group}:{name}")
    events = os.path.join(tracefs_root(), "events")
    path = os.path.join(events, group, name, "id")
    try:
        with open(path) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        pass
    from pybpf.symbols.errors import nearest

    if not os.path.isdir(os.path.join(events, group)):
        groups = _listdir(events)
        near = nearest(group, groups)
        hint = f"; nearest groups: {', '.join(near)}" if near else ""
        raise UnknownTargetError(f"unknown tracepoint {group}:{name}: there is no tracepoint "
                                 f"group {group!r}{hint}") from None
    near = nearest(name, _listdir(os.path.join(events, group)))
    hint = f"; nearest in {group}: {', '.join(near)}" if near else ""
    raise UnknownTargetError(f"unknown tracepoint {group}:{name}{hint}") from None


def _listdir(path: str) -> list[str]:
    try:
        return sorted(e for e in os.listdir(path)
                      if os.path.isdir(os.path.join(path, e)))
    except OSError:
        return []


def tracefs_file(name: str) -> str:
    return os.path.join(tracefs_root(), name)
