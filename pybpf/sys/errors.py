"""Typed exceptions: every errno from bpf(2) and perf_event_open(2) becomes an exception with a
sentence a user understands."""

from __future__ import annotations

import errno as _errno
import os

from pybpf.sys.constants import ENOTSUPP

PRIVILEGE_HINT = (
    "BPF needs root, or the capabilities CAP_BPF and CAP_PERFMON (CAP_NET_ADMIN for network "
    "programs); run pybpf with sudo or grant them"
)


class BPFError(OSError):
    """Base of pybpf's kernel errors. `.errno` is the kernel's errno (0 when none)."""

    def __init__(self, message: str, err: int = 0) -> None:
        super().__init__(err, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotSupportedError(BPFError):
    """A feature this kernel does not offer (probed, not guessed from version numbers).
    When the feature is a hook programs attach to, `hook` names it ("kprobes",
    "fentry/fexit", ...) and `reason` says why it is missing, without the advice the
    message adds: callers word their own sentences from these, never from the message."""

    def __init__(self, message: str, err: int = 0, *, hook: str = "",
                 reason: str = "") -> None:
        super().__init__(message, err)
        self.hook = hook
        self.reason = reason


class BPFPermissionError(BPFError, PermissionError):
    """Missing privilege: root or CAP_BPF + CAP_PERFMON is needed."""


class VerifierError(BPFError):
    """The kernel verifier rejected a program. `.log` holds the whole verifier log,
    `.insn_index` the instruction it stopped at (None when the log does not say)."""

    def __init__(self, message: str, log: str, insn_index: int | None = None, err: int = 0):
        super().__init__(message, err)
        self.log = log
        self.insn_index = insn_index


class MapFullError(BPFError):
    """An update failed because the map holds max_entries elements already."""


CAP_SYS_ADMIN = 21
CAP_BPF = 39


def has_bpf_privilege() -> bool:
    """Whether this process holds CAP_BPF or CAP_SYS_ADMIN in its effective set."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    caps = int(line.split()[1], 16)
                    return bool(caps & (1 << CAP_BPF | 1 << CAP_SYS_ADMIN))
    except (OSError, ValueError):
        pass
    return os.geteuid() == 0


def error_from_errno(err: int, what: str) -> BPFError:
    """The typed exception for `err` raised by the operation described by `what`
    (e.g. "bpf(BPF_MAP_CREATE)")."""
    reason = os.strerror(err) if err != ENOTSUPP else "Operation not supported"
    if err in (_errno.EPERM, _errno.EACCES):
        if not has_bpf_privilege():
            return BPFPermissionError(f"{what} failed: {reason}. {PRIVILEGE_HINT}.", err)
        who = "as root" if os.geteuid() == 0 else "with CAP_BPF or CAP_SYS_ADMIN"
        return BPFPermissionError(f"{what} failed: {reason} (running {who}: the kernel "
                                  "refused this operation, e.g. a locked-down kernel or LSM)",
                                  err)
    if err in (_errno.EOPNOTSUPP, ENOTSUPP):
        return NotSupportedError(f"{what} failed: this kernel does not support it ({reason})",
                                 err)
    if err == _errno.ENOSYS:
        return NotSupportedError(f"{what} failed: the system call is not available on this "
                                 "kernel", err)
    return BPFError(f"{what} failed: {reason}", err)
