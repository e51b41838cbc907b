"""Attaching an object's program by its section name, through `pybpf.link`.

Targets that a section name cannot carry (an interface for xdp and tc, a cgroup for
cgroup programs, a socket for socket filters) come from the caller. `tp_btf/`, `fentry/`,
`fexit/` and `fmod_ret/` programs attach with BPF_RAW_TRACEPOINT_OPEN on their
attach_btf_id, which the link layer has no function for.
"""

from __future__ import annotations

import errno
from typing import Any

from pybpf import link
from pybpf.elf.sections import ProgSection
from pybpf.link.link import Link
from pybpf.sys import FD, AttachType, NotSupportedError, bpf_raw, error_from_errno
from pybpf.sys import constants as C
from pybpf.sys.attrs import RawTracepointOpenAttr


class MissingTarget(Exception):
    """The section does not say where to attach, and the caller gave no target."""


def tracing(prog: Any, target: str) -> Link:
    """tp_btf / fentry / fexit / fmod_ret: the kernel knows the target from the program's
    attach_btf_id; BPF_RAW_TRACEPOINT_OPEN with no name makes the link."""
    attr = RawTracepointOpenAttr(name=0, prog_fd=prog.fd.fileno())
    ret, err = bpf_raw(C.BPF_RAW_TRACEPOINT_OPEN, attr)
    if ret < 0:
        if err in (errno.ENOTSUP, C.ENOTSUPP, errno.EINVAL):
            raise NotSupportedError(f"attaching to {target}: this kernel cannot attach "
                                    "tracing programs (no BPF trampoline)", err)
        raise error_from_errno(err, f"attaching to {target}")
    return Link("tracing", target, link_fd=FD(ret))


def _split_uprobe(target: str) -> tuple[str, str | int]:
    path, sep, func = target.rpartition(":")
    if not sep or not path or not func:
        raise ValueError("a uprobe section is uprobe/PATH:FUNCTION[+OFFSET]")
    if func.startswith("0x"):
        return path, int(func, 16)
    return path, func


def attach(sec: ProgSection, prog: Any, *, ifname: str | int | None = None,
           cgroup: str | None = None, sock: Any = None) -> Link:
    """Attach a loaded program as its section says. Raises MissingTarget when the section
    names no target and none was given, ValueError for a malformed target."""
    how, target = sec.definition.attach, sec.target
    if how == "tracepoint":
        group, sep, name = target.partition("/")
        if not sep or not name:
            raise ValueError("a tracepoint section is tracepoint/GROUP/NAME")
        return link.tracepoint(prog, group, name)
    if how == "raw_tp":
        if not target:
            raise MissingTarget("raw tracepoint name")
        return link.raw_tracepoint(prog, target)
    if how in ("kprobe", "kretprobe"):
        if not target:
            raise MissingTarget("kernel function")
        return link.kprobe(prog, target, retprobe=how == "kretprobe")
    if how in ("uprobe", "uretprobe"):
        if not target:
            raise MissingTarget("binary and function")
        path, where = _split_uprobe(target)
        return link.uprobe(prog, path, where, retprobe=how == "uretprobe")
    if how == "tracing":
        return tracing(prog, sec.name)
    if how == "xdp":
        if ifname is None:
            raise MissingTarget("network interface")
        return link.xdp(prog, ifname)
    if how == "tc":
        if ifname is None:
            raise MissingTarget("network interface")
        direction = "egress" if sec.attach_type == AttachType.TCX_EGRESS else "ingress"
        return link.tc(prog, ifname, direction)
    if how == "cgroup":
        if cgroup is None:
            raise MissingTarget("cgroup")
        assert sec.attach_type is not None
        return link.cgroup(prog, cgroup, sec.attach_type)
    if how == "socket":
        if sock is None:
            raise MissingTarget("socket")
        return link.socket_filter(prog, sock)
    if how == "perf_event":
        raise MissingTarget("perf event (use pybpf.attach.perf_event)")
    raise MissingTarget(f"attachment for section '{sec.name}'")
