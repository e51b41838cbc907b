"""`.kconfig` externs: `extern int LINUX_KERNEL_VERSION __kconfig;` and CONFIG_* options.

Values come from the running kernel: its release (uname) and its configuration
(/proc/config.gz, else /boot/config-<release>). Options missing from the configuration are 0
when the extern is `__weak`, an error otherwise. The externs are laid out in one read-only
array map, like global data.
"""

from __future__ import annotations

import functools
import gzip
import os
import platform
import re
from dataclasses import dataclass

from pybpf.btf import BTF
from pybpf.btf import types as t
from pybpf.elf.values import strip

LIBBPF_TRISTATE = {"n": 0, "y": 1, "m": 2}


@dataclass(frozen=True, slots=True)
class KconfigVar:
    name: str
    type: t.Type
    offset: int
    size: int
    weak: bool


def kernel_version(release: str | None = None) -> int:
    """LINUX_KERNEL_VERSION: KERNEL_VERSION(a, b, c) of the running kernel (c capped at 255)."""
    release = release or platform.release()
    nums = [int(x) for x in re.findall(r"\d+", release.split("-")[0])[:3]] + [0, 0, 0]
    return (nums[0] << 16) + (nums[1] << 8) + min(nums[2], 255)


@functools.cache
def kernel_config() -> dict[str, str] | None:
    """The running kernel's configuration (None when the kernel does not publish it)."""
    text = None
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            text = f.read()
    except OSError:
        try:
            with open(f"/boot/config-{platform.release()}") as f:
                text = f.read()
        except OSError:
            return None
    out = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


def layout(btf: BTF, weak: dict[str, bool]) -> tuple[list[KconfigVar], int]:
    """Place the `.kconfig` variables of the object's BTF; returns them and the total size."""
    try:
        sec = btf.find(".kconfig", "datasec")
    except KeyError:
        return [], 0
    assert isinstance(sec, t.Datasec)
    out, pos = [], 0
    for v in sec.vars:
        var = v.type
        size = btf.sizeof(var)
        align = min(8, 1 << (size - 1).bit_length()) if size else 1
        pos = (pos + align - 1) // align * align
        out.append(KconfigVar(var.name, var.type, pos, size, weak.get(var.name, False)))
        pos += size
    return out, max(pos, 1)


def value_of(var: KconfigVar, config: dict[str, str] | None) -> bytes | str:
    """The bytes of one extern, or an error sentence when the kernel does not define it."""
    typ = strip(var.type)
    if var.name == "LINUX_KERNEL_VERSION":
        return kernel_version().to_bytes(var.size, "little")
    if var.name == "LINUX_HAS_SYSCALL_WRAPPER":
        wrapped = platform.machine() in ("x86_64", "aarch64", "s390x")
        return int(wrapped).to_bytes(var.size, "little")
    if var.name == "LINUX_HAS_BPF_COOKIE":
        return (1).to_bytes(var.size, "little")
    if not var.name.startswith("CONFIG_"):
        return f"unknown kconfig extern {var.name} (not a CONFIG_ option)"
    raw = (config or {}).get(var.name)
    if raw is None:
        if var.weak:
            return bytes(var.size)
        where = "the kernel's configuration" if config is not None else \
            "the kernel configuration (no /proc/config.gz or /boot/config-*)"
        return f"{var.name} is not set in {where}; declare it __weak to read 0"
    if isinstance(typ, t.Enum) and typ.name == "libbpf_tristate":
        return LIBBPF_TRISTATE.get(raw, 0).to_bytes(var.size, "little")
    if isinstance(typ, t.Int) and typ.is_bool:
        return int(raw in ("y", "m")).to_bytes(1, "little")
    if isinstance(typ, t.Int) and typ.size == 1 and raw in ("y", "m", "n"):
        return raw.encode()
    if isinstance(typ, t.Array):
        text = raw.strip('"').encode()
        return text[: var.size - 1].ljust(var.size, b"\0")
    if isinstance(typ, t.Int | t.Enum):
        try:
            num = int(raw.strip('"'), 0)
        except ValueError:
            return f"{var.name}={raw} is not a number"
        return (num & ((1 << (8 * var.size)) - 1)).to_bytes(var.size, "little")
    return f"{var.name}: unsupported extern type {typ.kind}"


def exists() -> bool:
    return os.path.exists("/proc/config.gz") or os.path.exists(f"/boot/config-{platform.release()}")
