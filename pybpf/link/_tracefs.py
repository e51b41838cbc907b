"""tracefs for the link layer: tracepoint ids with clear errors, and probe event files.
Finding (and mounting) tracefs is pybpf.btf.tracefs's job."""

from __future__ import annotations

import os

from pybpf.btf.tracefs import tracefs_root
from pybpf.link.errors import UnknownTargetError
from pybpf.symbols.errors import nearest


def tracepoint_id(group: str, name: str) -> int:
    """The perf event id of tracepoint group:name; UnknownTargetError naming it (and the
    nearest names) when it does not exist."""
    if not group or not name or "/" in group + name or ".." in (group, name):
        raise UnknownTargetError(f"invalid tracepoint name {group}:{name}")
    events = os.path.join(tracefs_root(), "events")
    try:
        with open(os.path.join(events, group, name, "id")) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        pass
    if not os.path.isdir(os.path.join(events, group)):
        near = nearest(group, _subdirs(events))
        hint = f"; nearest groups: {', '.join(near)}" if near else ""
        raise UnknownTargetError(f"unknown tracepoint {group}:{name}: there is no tracepoint "
                                 f"group {group!r}{hint}")
    near = nearest(name, _subdirs(os.path.join(events, group)))
    hint = f"; nearest in {group}: {', '.join(near)}" if near else ""
    raise UnknownTargetError(f"unknown tracepoint {group}:{name}{hint}")


def _subdirs(path: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir())
    except OSError:
        return []


def tracefs_file(name: str) -> str:
    return os.path.join(tracefs_root(), name)
