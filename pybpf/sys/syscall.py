"""The raw system calls: bpf(2), perf_event_open(2) and ioctl(2), through ctypes."""

from __future__ import annotations

import ctypes
import platform

from pybpf.sys import constants as C
from pybpf.sys.attrs import PerfEventAttr
from pybpf.sys.errors import error_from_errno

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_ioctl = _libc.ioctl
_ioctl.restype = ctypes.c_int
_ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong]

# (bpf, perf_event_open) system call numbers per architecture
_SYSCALL_NR = {
    "x86_64": (321, 298),
    "aarch64": (280, 241),
    "arm64": (280, 241),
    "riscv64": (280, 241),
    "ppc64le": (361, 319),
    "s390x": (351, 331),
}
try:
    NR_BPF, NR_PERF_EVENT_OPEN = _SYSCALL_NR[platform.machine()]
except KeyError:  # pragma: no cover - other architectures
    raise ImportError(f"pybpf does not know the bpf(2) syscall number on {platform.machine()}") from None

_CMD_NAMES = {v: k for k, v in vars(C).items() if k.startswith("BPF_") and isinstance(v, int)
              and k[4:].split("_")[0] in {"MAP", "PROG", "OBJ", "RAW", "BTF", "TASK", "LINK",
                                          "ENABLE", "ITER"}}


def cmd_name(cmd: int) -> str:
    return _CMD_NAMES.get(cmd, f"cmd {cmd}")


def bpf_raw(cmd: int, attr: ctypes.Structure) -> tuple[int, int]:
    """bpf(cmd, &attr, sizeof(attr)) -> (result, errno); never raises."""
    ret = _syscall(NR_BPF, ctypes.c_int(cmd), ctypes.byref(attr),
                   ctypes.c_uint(ctypes.sizeof(attr)))
    return ret, (ctypes.get_errno() if ret < 0 else 0)


def bpf(cmd: int, attr: ctypes.Structure, what: str | None = None) -> int:
    """bpf(cmd, &attr, sizeof(attr)); raises the typed exception for the errno."""
    ret, err = bpf_raw(cmd, attr)
    if ret < 0:
        raise error_from_errno(err, what or f"bpf({cmd_name(cmd)})")
    return ret


def perf_event_open(attr: PerfEventAttr, pid: int = -1, cpu: int = 0, group_fd: int = -1,
                    flags: int = C.PERF_FLAG_FD_CLOEXEC, what: str = "perf_event_open") -> int:
    attr.size = ctypes.sizeof(PerfEventAttr)
    ret = _syscall(NR_PERF_EVENT_OPEN, ctypes.byref(attr), ctypes.c_int(pid), ctypes.c_int(cpu),
                   ctypes.c_int(group_fd), ctypes.c_ulong(flags))
    if ret < 0:
        raise error_from_errno(ctypes.get_errno(), what)
    return ret


def ioctl(fd: int, request: int, arg: int = 0, what: str = "ioctl") -> int:
    ret = _ioctl(fd, request, arg)
    if ret < 0:
        raise error_from_errno(ctypes.get_errno(), what)
    return ret


def addr(buf: ctypes.Array | ctypes.Structure | None) -> int:
    """The address of a ctypes buffer as the u64 the kernel's attr fields want (0 for None)."""
    return 0 if buf is None else ctypes.addressof(buf)
