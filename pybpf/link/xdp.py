"""attach.xdp: an 'xdp' program on a network interface through a BPF link (BPF_LINK_CREATE
with BPF_XDP). Closing the link removes the program from the interface."""

from __future__ import annotations

import errno
from typing import Any

from pybpf.link._prog import prog_fd, require_type
from pybpf.link._system import ifindex
from pybpf.link.errors import AttachError
from pybpf.link.link import Link
from pybpf.sys import FD, AttachType, NotSupportedError, ProgType, bpf_raw, error_from_errno
from pybpf.sys import constants as C
from pybpf.sys.attrs import LinkCreateAttr

MODES = {
    "auto": 0,
    "skb": C.XDP_FLAGS_SKB_MODE, "generic": C.XDP_FLAGS_SKB_MODE,
    "native": C.XDP_FLAGS_DRV_MODE, "drv": C.XDP_FLAGS_DRV_MODE,
    "hw": C.XDP_FLAGS_HW_MODE, "offload": C.XDP_FLAGS_HW_MODE,
}  # fmt: skip


def xdp(prog: Any, ifname_or_index: str | int, mode: str = "auto") -> Link:
    """Attach `prog` (type 'xdp') to an interface of this thread's network namespace.
    mode: "auto" (native when the driver can, else generic), "skb", "native" or "hw"."""
    try:
        flags = MODES[mode]
    except KeyError:
        raise ValueError(f"unknown XDP mode {mode!r}: use auto, skb, native or hw") from None
    index, name = ifindex(ifname_or_index)
    require_type(prog, {ProgType.XDP}, f"xdp on {name}")
    attr = LinkCreateAttr(prog_fd=prog_fd(prog), target_fd=index,
                          attach_type=AttachType.XDP, flags=flags)
    ret, err = bpf_raw(C.BPF_LINK_CREATE, attr)
    if ret < 0:
        if err == errno.EBUSY:
            raise AttachError(f"{name} already has an XDP program in this mode (attached by "
                              "another link or by netlink); detach it first", err)
        if err in (errno.EOPNOTSUPP, C.ENOTSUPP):
            raise NotSupportedError(f"{name} does not support XDP in {mode} mode; try "
                                    "mode='skb' (generic XDP)", err)
        if err == errno.EINVAL and flags == C.XDP_FLAGS_HW_MODE:
            raise NotSupportedError(f"{name} cannot offload XDP programs to hardware", err)
        raise error_from_errno(err, f"attaching XDP program to {name}")
    return Link("xdp", f"{name}({mode})", link_fd=FD(ret))
