"""Attaching a program to an open perf event (tracepoint, kprobe, uprobe or sampling event).

Preferred: BPF_LINK_CREATE with attach type BPF_PERF_EVENT, which gives a BPF link with an id.
Kernels without perf links (before 5.15) get PERF_EVENT_IOC_SET_BPF instead. Either way the
event is then enabled with PERF_EVENT_IOC_ENABLE, as libbpf does.
"""

from __future__ import annotations

import errno
from typing import Any

from pybpf.link._prog import prog_fd, prog_type, type_name
from pybpf.link.errors import AttachError
from pybpf.link.link import Link
from pybpf.sys import FD, AttachType, BPFError, NotSupportedError, bpf_raw, error_from_errno
from pybpf.sys import constants as C
from pybpf.sys import ioctl as _ioctl
from pybpf.sys.attrs import LinkCreateAttr

_perf_link_supported: bool | None = None


def _link_create(pfd: int, pfd_prog: int, cookie: int) -> tuple[int, int]:
    attr = LinkCreateAttr(prog_fd=pfd_prog, target_fd=pfd, attach_type=AttachType.PERF_EVENT)
    attr.extra[0] = cookie
    return bpf_raw(C.BPF_LINK_CREATE, attr)


def _explain(err: int, prog: Any, kind: str, target: str) -> BPFError:
    if err == errno.EINVAL:
        return AttachError(
            f"the kernel refused to attach this '{type_name(prog_type(prog))}' program to "
            f"{kind} {target} (EINVAL): check the program type matches the probe", err)
    if err == errno.EEXIST:
        return AttachError(f"{kind} {target} already has a BPF program attached through this "
                           "perf event", err)
    return error_from_errno(err, f"attaching to {kind} {target}")


def attach_perf_event(prog: Any, pfd: FD, kind: str, target: str, cookie: int = 0,
                      undo: Any = None) -> Link:
    """Attach `prog` to the open perf event `pfd` and enable it. The returned Link owns `pfd`
    (and runs `undo` after closing it); on failure `pfd` is closed and `undo` run."""
    global _perf_link_supported
    try:
        pfd_prog = prog_fd(prog)
        link_fd: FD | None = None
        if _perf_link_supported is not False:
            ret, err = _link_create(pfd.fileno(), pfd_prog, cookie)
            if ret >= 0:
                _perf_link_supported = True
                link_fd = FD(ret)
            elif _perf_link_supported is None and err in (errno.EINVAL, errno.EOPNOTSUPP,
                                                          C.ENOTSUPP, errno.E2BIG):
                # maybe no perf links at all: the ioctl tells, and if it works, remember
                pass
            else:
                raise _explain(err, prog, kind, target)
        if link_fd is None:
            if cookie:
                raise NotSupportedError("BPF cookies need perf links (BPF_LINK_CREATE with "
                                        "BPF_PERF_EVENT), which this kernel lacks")
            try:
                _ioctl(pfd.fileno(), C.PERF_EVENT_IOC_SET_BPF, pfd_prog,
                       what=f"attaching to {kind} {target}")
            except BPFError as e:
                if e.errno in (errno.EINVAL, errno.EEXIST):
                    raise _explain(e.errno, prog, kind, target) from None
                raise
            _perf_link_supported = False
        link = Link(kind, target, link_fd=link_fd, owned=[pfd], undo=undo)
    except BaseException:
        pfd.close()
        if undo is not None:
            undo()
        raise
    try:
        _ioctl(pfd.fileno(), C.PERF_EVENT_IOC_ENABLE, 0, what=f"enabling {kind} {target}")
    except BaseException:
        link.close()
        raise
    return link
