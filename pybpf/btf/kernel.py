"""The running kernel's BTF: ``kernel_btf()`` for vmlinux and ``module_btf(name)``."""

from __future__ import annotations

import errno
import os
import threading

from pybpf.btf.btf import BTF
from pybpf.btf.errors import BTFFileError, BTFNotFoundError

SYSFS_BTF = "/sys/kernel/btf"
VMLINUX = f"{SYSFS_BTF}/vmlinux"

_lock = threading.Lock()
_vmlinux: BTF | None = None
_modules: dict[str, BTF] = {}


def kernel_btf() -> BTF:
    """The kernel's own BTF (``/sys/kernel/btf/vmlinux``, or the file that the environment
    variable ``PYBPF_BTF`` names, as bpftrace's BPFTRACE_BTF does: for a kernel without BTF
    in sysfs), loaded once per process."""
    global _vmlinux
    if _vmlinux is None:
        with _lock:
            if _vmlinux is None:
                env = os.environ.get("PYBPF_BTF")
                path = env or VMLINUX
                try:
                    _vmlinux = BTF.load(path)
                except BTFFileError as e:
                    # One line that starts with the file, so a command can print it as is.
                    if not env and e.errno == errno.ENOENT:
                        raise BTFFileError(path, "does not exist: this kernel was built without "
                                           "BTF (CONFIG_DEBUG_INFO_BTF) or sysfs is not mounted",
                                           e.errno) from None
                    raise BTFFileError(path, e.reason, e.errno,
                                       " (PYBPF_BTF)" if env else "") from None
    return _vmlinux


def module_btf(name: str) -> BTF:
    """The split BTF of a loaded kernel module (on top of :func:`kernel_btf`)."""
    base = kernel_btf()
    with _lock:
        found = _modules.get(name)
        if found is None:
            path = os.path.join(SYSFS_BTF, name)
            if name in ("", "vmlinux") or "/" in name or not os.path.exists(path):
                from pybpf.btf.errors import suggest

                raise BTFNotFoundError(f"no BTF for kernel module {name!r} in {SYSFS_BTF}", suggest(name, kernel_modules()))
            found = _modules[name] = BTF.load(path, base=base)
    return found


def kernel_modules() -> list[str]:
    """Names of the loaded modules that have BTF."""
    try:
        return sorted(n for n in os.listdir(SYSFS_BTF) if n != "vmlinux")
    except OSError:
        return []
