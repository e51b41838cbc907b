"""attach.tc: a 'sched_cls' program on an interface's ingress or egress through a tcx link
(BPF_LINK_CREATE with BPF_TCX_INGRESS / BPF_TCX_EGRESS, kernel 6.6+). The program needs no
expected attach type. It returns TCX_NEXT (-1), TCX_PASS (0), TCX_DROP (2) or
TCX_REDIRECT (7); tc's TC_ACT_* values mean the same."""

from __future__ import annotations

import errno
from typing import Any

from pybpf.link._prog import prog_fd, require_type
from pybpf.link._system import ifindex
from pybpf.link._uapi import BPF_F_AFTER, BPF_F_BEFORE
from pybpf.link.link import Link
from pybpf.sys import FD, AttachType, NotSupportedError, ProgType, bpf_raw, error_from_errno
from pybpf.sys import constants as C
from pybpf.sys.attrs import LinkCreateAttr

DIRECTIONS = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}


def tc(prog: Any, ifname_or_index: str | int, direction: str = "ingress",
       position: str = "last") -> Link:
    """Attach `prog` (type 'sched_cls') to `direction` ("ingress"/"egress") of an interface
    of this thread's network namespace; position "last" (default) or "first" among the
    interface's tcx programs."""
    try:
        atype = DIRECTIONS[direction]
    except KeyError:
        raise ValueError(f"unknown tc direction {direction!r}: use ingress or egress") from None
    if position not in ("first", "last"):
        raise ValueError(f"unknown position {position!r}: use first or last")
    index, name = ifindex(ifname_or_index)
    require_type(prog, {ProgType.SCHED_CLS}, f"tc {direction} on {name}")
    # BPF_F_BEFORE / BPF_F_AFTER with no relative object: first / last in the chain
    attr = LinkCreateAttr(prog_fd=prog_fd(prog), target_fd=index, attach_type=atype,
                          flags=BPF_F_BEFORE if position == "first" else BPF_F_AFTER)
    ret, err = bpf_raw(C.BPF_LINK_CREATE, attr)
    if ret < 0 and err == errno.EINVAL:
        # retry without ordering flags (plain append) before deciding tcx is missing
        attr.flags = 0
        ret, err = bpf_raw(C.BPF_LINK_CREATE, attr)
    if ret < 0:
        if err in (errno.EINVAL, errno.EOPNOTSUPP, C.ENOTSUPP):
            raise NotSupportedError(
                "tcx links (BPF_TCX_INGRESS/EGRESS, Linux 6.6+) are not available on this "
                "kernel; attach the program with `tc filter add ... bpf da` (cls_bpf) instead",
                err)
        raise error_from_errno(err, f"attaching tc {direction} program to {name}")
    return Link("tc", f"{name}:{direction}", link_fd=FD(ret))
