"""Loading BTF into the kernel (BPF_BTF_LOAD): programs with bpf-to-bpf calls or callbacks
need func_info against it, maps may name their key/value types in it, and line info in it
lets verifier errors point at source lines."""

from __future__ import annotations

import ctypes
import errno

from pybpf.btf.errors import BTFError
from pybpf.sys import FD, addr, bpf_raw, error_from_errno
from pybpf.sys import constants as C
from pybpf.sys.attrs import BtfLoadAttr


class BTFLoadError(BTFError):
    """The kernel rejected a BTF blob; `.log` holds the kernel's BTF verifier log."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(message)
        self.log = log


def load_btf(data: bytes) -> FD:
    """Load raw BTF bytes into the kernel; returns the owned BTF object fd."""
    buf = ctypes.create_string_buffer(bytes(data), len(data))
    attr = BtfLoadAttr(btf=addr(buf), btf_size=len(data))
    fd, err = bpf_raw(C.BPF_BTF_LOAD, attr)
    if fd >= 0:
        return FD(fd)
    if err in (errno.EPERM, errno.EACCES):
        raise error_from_errno(err, "bpf(BPF_BTF_LOAD)")
    log = ctypes.create_string_buffer(1 << 16)
    attr = BtfLoadAttr(btf=addr(buf), btf_size=len(data), btf_log_buf=addr(log),
                       btf_log_size=len(log), btf_log_level=1)
    fd, err = bpf_raw(C.BPF_BTF_LOAD, attr)
    if fd >= 0:  # accepted the second time: keep it
        return FD(fd)
    text = log.value.decode(errors="replace").strip()
    last = text.splitlines()[-1] if text else "no log"
    raise BTFLoadError(f"the kernel rejected the BTF ({len(data)} bytes): {last}", text)
