"""What the link layer needs from a program: its fd and type. Accepts a pybpf Program,
anything with an `.fd`, an FD or a plain int."""

from __future__ import annotations

from typing import Any

from pybpf.link.errors import AttachError
from pybpf.sys import FD, ProgType, objects


def prog_fd(prog: Any) -> int:
    fd = getattr(prog, "fd", prog)
    if isinstance(fd, FD):
        if fd.closed:
            raise AttachError("cannot attach a closed program")
        return fd.fileno()
    if isinstance(fd, int) and fd >= 0:
        return fd
    raise TypeError(f"expected a loaded program (pybpf Program, FD or fd number), got {prog!r}")


def prog_type(prog: Any) -> ProgType:
    ptype = getattr(prog, "prog_type", None)
    if isinstance(ptype, ProgType):
        return ptype
    raw = objects.prog_info(prog_fd(prog)).type
    try:
        return ProgType(raw)
    except ValueError:
        return ProgType.UNSPEC


def type_name(ptype: ProgType) -> str:
    return ptype.name.lower()


def require_type(prog: Any, allowed: set[ProgType], what: str) -> ProgType:
    """The program's type; AttachError naming the accepted types when it is not one of them."""
    ptype = prog_type(prog)
    if ptype not in allowed:
        want = " or ".join(sorted(f"'{type_name(t)}'" for t in allowed))
        raise AttachError(f"{what} needs a {want} program, but this program is "
                          f"'{type_name(ptype)}'")
    return ptype
