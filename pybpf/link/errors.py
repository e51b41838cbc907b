"""The link layer's exceptions. Missing kernel features raise pybpf.sys.NotSupportedError."""

from __future__ import annotations

from pybpf.sys import BPFError


class AttachError(BPFError):
    """Attaching failed for a reason the message states (wrong program type, unknown
    tracepoint or interface, a hook already taken, ...). `.errno` is the kernel's errno when
    the kernel refused."""


class UnknownTargetError(AttachError, LookupError):
    """The thing to attach to does not exist: a tracepoint, interface, cgroup or event name."""
