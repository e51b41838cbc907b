"""attach.cgroup: a cgroup program ('cgroup_skb', 'cgroup_sock', 'cgroup_sock_addr',
'sock_ops', 'cgroup_device', 'cgroup_sysctl', 'cgroup_sockopt') on a cgroup v2 directory
through a BPF link (BPF_LINK_CREATE with the cgroup attach type). The link allows other
programs on the same hook (multi-attach)."""

from __future__ import annotations

import errno
import os
from typing import Any

from pybpf.link._prog import prog_fd, require_type
from pybpf.link.errors import AttachError, UnknownTargetError
from pybpf.link.link import Link
from pybpf.sys import FD, AttachType, ProgType, bpf_raw, error_from_errno
from pybpf.sys import constants as C
from pybpf.sys.attrs import LinkCreateAttr

CGROUP_PROG_TYPES = {
    ProgType.CGROUP_SKB, ProgType.CGROUP_SOCK, ProgType.CGROUP_SOCK_ADDR, ProgType.SOCK_OPS,
    ProgType.CGROUP_DEVICE, ProgType.CGROUP_SYSCTL, ProgType.CGROUP_SOCKOPT,
}  # fmt: skip
_SHORT = {"ingress": AttachType.CGROUP_INET_INGRESS, "egress": AttachType.CGROUP_INET_EGRESS,
          "sock_create": AttachType.CGROUP_INET_SOCK_CREATE,
          "sock_release": AttachType.CGROUP_INET_SOCK_RELEASE,
          "device": AttachType.CGROUP_DEVICE, "sysctl": AttachType.CGROUP_SYSCTL,
          "sock_ops": AttachType.CGROUP_SOCK_OPS}


def cgroup2_mount() -> str:
    """The cgroup v2 mount point, from /proc/mounts (e.g. /sys/fs/cgroup or
    /sys/fs/cgroup/unified on hybrid systems)."""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "cgroup2":
                return parts[1]
    raise UnknownTargetError("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none DIR); "
                             "BPF cgroup programs need cgroup v2")


def cgroup_by_id(root: str, cid: int) -> str | None:
    """The path ("/", "/a/b") below `root` of the cgroup whose id (its directory's inode
    number) is `cid`, by walking the hierarchy; None when no directory has it."""
    for dirpath, _dirs, _files in os.walk(root):
        try:
            if os.stat(dirpath).st_ino != cid:
                continue
        except OSError:
            continue
        rel = os.path.relpath(dirpath, root)
        return "/" if rel == "." else "/" + rel
    return None


def cgroup_attach_type(attach_type: str | int | AttachType) -> AttachType:
    if isinstance(attach_type, AttachType):
        return attach_type
    if isinstance(attach_type, int):
        return AttachType(attach_type)
    key = attach_type.lower().removeprefix("bpf_")
    if key in _SHORT:
        return _SHORT[key]
    key = key if key.startswith("cgroup_") or key == "lsm_cgroup" else f"cgroup_{key}"
    try:
        return AttachType[key.upper()]
    except KeyError:
        known = sorted(list(_SHORT) + [t.name.lower() for t in AttachType
                                        if t.name.startswith("CGROUP_")])
        raise ValueError(f"unknown cgroup attach type {attach_type!r}; known: "
                         f"{', '.join(known)}") from None


def cgroup_path(path: str) -> str:
    """An absolute cgroup directory: absolute paths as given, others under the v2 mount."""
    full = path if os.path.isabs(path) else os.path.join(cgroup2_mount(), path)
    if not os.path.isdir(full):
        raise UnknownTargetError(f"cgroup {full} does not exist")
    return full


def cgroup(prog: Any, path: str, attach_type: str | int | AttachType) -> Link:
    """Attach `prog` to the cgroup v2 directory `path` (absolute, or relative to the cgroup2
    mount) at `attach_type` ("ingress"/"egress" or a name like "cgroup_inet4_connect")."""
    atype = cgroup_attach_type(attach_type)
    full = cgroup_path(path)
    require_type(prog, CGROUP_PROG_TYPES, f"cgroup {atype.name.lower()}")
    try:
        dfd = FD(os.open(full, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
    except OSError as e:
        raise error_from_errno(e.errno or errno.EINVAL, f"opening cgroup {full}") from None
    with dfd:
        attr = LinkCreateAttr(prog_fd=prog_fd(prog), target_fd=dfd.fileno(), attach_type=atype)
        ret, err = bpf_raw(C.BPF_LINK_CREATE, attr)
    if ret < 0:
        if err == errno.EBADF:
            raise AttachError(f"{full} is not a cgroup v2 directory", err)
        if err == errno.EINVAL:
            raise AttachError(f"the kernel refused to attach this program at "
                              f"{atype.name.lower()} of {full} (EINVAL): the program type or "
                              "its expected attach type does not match the hook", err)
        raise error_from_errno(err, f"attaching to cgroup {full} ({atype.name.lower()})")
    return Link("cgroup", f"{full}:{atype.name.lower()}", link_fd=FD(ret))
