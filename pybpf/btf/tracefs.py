"""tracefs: find (or mount) it, list tracepoints (or ask for one), read their record formats.

``tracefs_root()`` looks in ``/proc/mounts`` for tracefs (or a debugfs with ``tracing``
inside); when there is none it mounts tracefs at ``/sys/kernel/tracing``. ``PYBPF_TRACEFS``
names another folder to use (handy for tests and unusual setups).
"""

from __future__ import annotations

import fnmatch
import os
import stat
import threading

from pybpf.btf.errors import BTFError, BTFNotFoundError, suggest
from pybpf.btf.tpformat import TracepointFormat, TracepointFormatError, parse_format

TRACEFS = "/sys/kernel/tracing"
DEBUGFS_TRACING = "/sys/kernel/debug/tracing"
MOUNTS = "/proc/mounts"

_lock = threading.Lock()
_root: str | None = None

__all__ = [
    "TracefsError", "TracefsAccessError", "TracepointFormatError", "tracefs_root",
    "access_error", "list_tracepoints",
    "tracepoint_exists", "tracepoint_format", "tracepoint_id", "find_tracefs", "mount_tracefs",
]  # fmt: skip


class TracefsError(BTFError, OSError):
    """tracefs is not there and could not be mounted."""

    def __str__(self) -> str:  # the sentence, without OSError's "[Errno 2]"
        return str(self.strerror) if self.strerror else super().__str__()


class TracefsAccessError(TracefsError):
    """tracefs is mounted, but this process may not read it (tracefs is mode 0700 by default,
    so a user with CAP_BPF and CAP_PERFMON but not root cannot list or read tracepoints)."""


def _name(table: str, ident: int) -> str:
    import grp
    import pwd

    try:
        return pwd.getpwuid(ident).pw_name if table == "user" else grp.getgrgid(ident).gr_name
    except KeyError:
        return str(ident)


def _denied(root: str, path: str) -> TracefsAccessError:
    """The error for `path` in tracefs (mounted at `root`) that this process may not enter or
    read: its mode and owner, who this process is, and what grants access. tracefs's files are
    mode 0440 (its event folders 0755) under a root of 0700, so a group is what can be let in:
    `mode=755` alone would open the root, not the format files."""
    uid, group = os.geteuid(), _name("group", os.getegid())
    try:
        st = os.stat(path)
    except OSError:  # below a folder this process cannot enter: say what that folder is
        try:
            st, path = os.stat(root), root
        except OSError as e:  # not even that (a folder above it is closed)
            return TracefsAccessError(13, f"cannot read tracefs: {root}: {e.strerror}, and "
                                          f"pybpf runs as uid {uid} ({_name('user', uid)}); "
                                          "run as root, or make it readable")
    if root == os.environ.get("PYBPF_TRACEFS"):  # a copy in a folder, not a mount
        fix = f"make {root} readable (chmod -R g+rX {root}, owned by group {group})"
    else:  # the mount options set the group of every file and folder, and the root's mode
        fix = f"let group {group} read it (mount -o remount,gid={group},mode=750 {root})"
    return TracefsAccessError(13, (
        f"cannot read tracefs: {path} is mode {stat.S_IMODE(st.st_mode):04o}, owned by "
        f"{_name('user', st.st_uid)}:{_name('group', st.st_gid)}, and pybpf runs as uid {uid} "
        f"({_name('user', uid)}); run as root, or {fix}"))


def _state(path: str) -> str:
    """"ok" when `path` holds a readable tracefs, "denied" when this process may not look,
    "missing" when it is not a tracefs (or not there)."""
    events = os.path.join(path, "events")
    try:
        st = os.stat(events)  # EACCES when the mount point (0700) may not be entered
    except PermissionError:
        return "denied"
    except OSError:
        return "missing"
    if not stat.S_ISDIR(st.st_mode):
        return "missing"
    # (effective ids and capabilities, as open() would check them)
    return "ok" if os.access(events, os.R_OK | os.X_OK, effective_ids=True) else "denied"


def access_error() -> TracefsAccessError | None:
    """The error that says why tracefs cannot be read by this process, if it is mounted but
    unreadable; None when it is readable or not mounted (nothing is mounted here)."""
    override = os.environ.get("PYBPF_TRACEFS")
    if override:
        return _denied(override, os.path.join(override, "events")) \
            if _state(override) == "denied" else None
    try:
        with open(MOUNTS) as f:
            found = find_tracefs(f.read())
    except OSError:
        return None
    if found is None or _state(found) != "denied":
        return None
    return _denied(found, os.path.join(found, "events"))


def _unescape(path: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes.
    for esc, ch in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(esc, ch)
    return path


def find_tracefs(mounts_text: str) -> str | None:
    """The tracefs folder named by the text of ``/proc/mounts``, or ``None``.

    Prefers tracefs at ``/sys/kernel/tracing``, then any tracefs mount, then
    ``tracing`` inside a debugfs mount.
    """
    tracefs: list[str] = []
    debugfs: list[str] = []
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        where, fstype = _unescape(parts[1]), parts[2]
        if fstype == "tracefs":
            tracefs.append(where)
        elif fstype == "debugfs":
            debugfs.append(os.path.join(where, "tracing"))
    if TRACEFS in tracefs:
        return TRACEFS
    if tracefs:
        return tracefs[0]
    return debugfs[0] if debugfs else None


def mount_tracefs(target: str = TRACEFS) -> None:
    """``mount -t tracefs nodev <target>`` through libc; raises :class:`TracefsError`."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    if libc.mount(b"nodev", target.encode(), b"tracefs", 0, None) != 0:
        err = ctypes.get_errno()
        hint = " (run as root, or with CAP_SYS_ADMIN)" if err in (1, 13) else ""
        raise TracefsError(
            err,
            f"tracefs is not mounted and mounting it at {target} failed: {os.strerror(err)}{hint}; "
            f"mount it by hand with: mount -t tracefs nodev {target}",
        )


def _usable(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "events"))


def tracefs_root(mount: bool = True) -> str:
    """The tracefs mount point, mounting tracefs at ``/sys/kernel/tracing`` if needed."""
    global _root
    override = os.environ.get("PYBPF_TRACEFS")
    if override:
        if _state(override) == "denied":
            raise _denied(override, os.path.join(override, "events"))
        if not _usable(override):
            raise TracefsError(2, f"PYBPF_TRACEFS={override} has no 'events' folder: not a tracefs")
        return override
    with _lock:
        if _root is not None and _usable(_root):
            return _root
        try:
            with open(MOUNTS) as f:
                found = find_tracefs(f.read())
        except OSError:
            found = None
        if found and _usable(found):
            _root = found
            return found
        if found and _state(found) == "denied":  # mounted: mounting again cannot help
            raise _denied(found, os.path.join(found, "events"))
        if not mount:
            raise TracefsError(2, f"tracefs is not mounted (looked in {MOUNTS}); mount it at {TRACEFS}")
        error: TracefsError | None = None
        if os.path.isdir(TRACEFS):
            try:
                mount_tracefs(TRACEFS)
            except TracefsError as e:
                error = e
            if _usable(TRACEFS):
                _root = TRACEFS
                return TRACEFS
        if _usable(DEBUGFS_TRACING):  # debugfs mounted: tracing inside it mounts itself
            _root = DEBUGFS_TRACING
            return DEBUGFS_TRACING
        if error is not None:
            raise error
        raise TracefsError(2, f"tracefs is not available: {TRACEFS} does not exist (kernel without CONFIG_TRACING?)")


def _events_dir(root: str | None) -> str:
    return os.path.join(root or tracefs_root(), "events")


def list_tracepoints(pattern: str = "*", root: str | None = None) -> list[str]:
    """Sorted ``"group:name"`` of all tracepoints matching the fnmatch ``pattern``.

    A pattern without a colon matches either the whole ``group:name`` or the name alone.
    """
    events = _events_dir(root)
    out: list[str] = []
    try:
        groups = list(os.scandir(events))
    except PermissionError:
        raise _denied(os.path.dirname(events), events) from None
    except OSError as e:
        raise TracefsError(e.errno or 0, f"cannot list tracepoints in {events}: {e.strerror}") from e
    for group in groups:
        if not group.is_dir():
            continue
        try:
            entries = list(os.scandir(group.path))
        except OSError:
            continue
        for ev in entries:
            if ev.is_dir():
                full = f"{group.name}:{ev.name}"
                if fnmatch.fnmatchcase(full, pattern) or (":" not in pattern and fnmatch.fnmatchcase(ev.name, pattern)):
                    out.append(full)
    return sorted(out)


def tracepoint_exists(group: str, name: str | None = None, root: str | None = None) -> bool:
    """Whether this kernel has tracepoint ``group:name`` (or ``tracepoint_exists("group:name")``).

    False, not an error, when tracefs is not available (then no tracepoint can be used);
    :class:`TracefsAccessError` when it is there but this process may not read it (the answer
    is unknown: a tool that took it for "no" would trace nothing without a word).
    """
    group, name = _split(group, name)
    try:
        events = _events_dir(root)
    except TracefsAccessError:
        raise
    except TracefsError:
        return False
    if "/" in group + name or ".." in (group, name):
        return False
    path = os.path.join(events, group, name, "format")
    if os.path.isfile(path):
        return True
    if _state(os.path.dirname(events)) == "denied":
        raise _denied(os.path.dirname(events), events)
    return False


def _split(group: str, name: str | None) -> tuple[str, str]:
    if name is None:
        if ":" not in group:
            raise ValueError(f"tracepoint {group!r} should be written as 'group:name'")
        group, name = group.split(":", 1)
    return group.strip(), name.strip()


def _locate(group: str, name: str, root: str | None) -> tuple[str, str, str]:
    events = _events_dir(root)
    if group in ("", "*"):
        matches = list_tracepoints(f"*:{name}", root)
        if len(matches) == 1:
            group = matches[0].split(":", 1)[0]
        elif matches:
            raise BTFNotFoundError(f"tracepoint {name!r} exists in several groups; name one", matches)
    path = os.path.join(events, group, name)
    if "/" in group + name or ".." in (group, name) or not os.path.isfile(os.path.join(path, "format")):
        everything = list_tracepoints("*", root)
        near = suggest(f"{group}:{name}", everything)
        near += [tp for tp in everything if tp.endswith(f":{name}") and tp not in near]
        raise BTFNotFoundError(f"no tracepoint {group}:{name} in {events}", near[:5])
    return group, name, path


def tracepoint_format(group: str, name: str | None = None, root: str | None = None) -> TracepointFormat:
    """Record layout of tracepoint ``group:name`` (or ``tracepoint_format("group:name")``).

    A group of ``"*"`` finds the group. Unknown tracepoints raise :class:`BTFNotFoundError`
    (a ``KeyError``) suggesting near names; unreadable format text raises
    :class:`TracepointFormatError`.
    """
    group, name = _split(group, name)
    group, name, path = _locate(group, name, root)
    try:
        with open(os.path.join(path, "format")) as f:
            text = f.read()
    except PermissionError:  # the file is there (0440 in tracefs), but not for this process
        raise _denied(os.path.dirname(_events_dir(root)), os.path.join(path, "format")) from None
    except OSError as e:
        raise TracefsError(e.errno or 0, f"cannot read the format of tracepoint {group}:{name}: {e.strerror}") from e
    return parse_format(text, group, name)


def tracepoint_id(group: str, name: str | None = None, root: str | None = None) -> int:
    """The event id of a tracepoint (what ``perf_event_open`` takes as ``config``)."""
    group, name = _split(group, name)
    group, name, path = _locate(group, name, root)
    try:
        with open(os.path.join(path, "id")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return tracepoint_format(group, name, root).id


_ = TracepointFormatError  # re-exported
