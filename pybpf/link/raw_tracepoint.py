"""attach.raw_tracepoint: a 'raw_tracepoint' program on a tracepoint by its bare name
("sched_switch", "sys_enter"), through BPF_RAW_TRACEPOINT_OPEN. The program gets the
tracepoint's raw arguments (struct bpf_raw_tracepoint_args)."""

from __future__ import annotations

import ctypes
import errno
from typing import Any

from pybpf.link._prog import prog_fd, require_type
from pybpf.link.errors import UnknownTargetError
from pybpf.link.link import Link
from pybpf.sys import FD, ProgType, bpf_raw, error_from_errno
from pybpf.sys import constants as C
from pybpf.sys.attrs import RawTracepointOpenAttr


def raw_tracepoint(prog: Any, name: str, cookie: int = 0) -> Link:
    """Attach `prog` (type 'raw_tracepoint') to the tracepoint called `name` (no group:
    "sched_switch"; a "sched:sched_switch" spelling is accepted and the group dropped)."""
    name = name.rpartition(":")[2]
    require_type(prog, {ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE},
                 f"raw tracepoint {name}")
    cname = ctypes.create_string_buffer(name.encode())
    attr = RawTracepointOpenAttr(name=ctypes.addressof(cname), prog_fd=prog_fd(prog),
                                 cookie=cookie)
    ret, err = bpf_raw(C.BPF_RAW_TRACEPOINT_OPEN, attr)
    if ret < 0:
        if err == errno.ENOENT:
            raise UnknownTargetError(f"unknown raw tracepoint {name!r} (raw tracepoints take "
                                     "the bare event name, e.g. 'sched_switch')", err)
        raise error_from_errno(err, f"attaching to raw tracepoint {name}")
    return Link("raw_tracepoint", name, link_fd=FD(ret))
