"""Block devices by number: the tracepoints' dev_t (major << 20 | minor) to and from names."""

from __future__ import annotations

import os

MINORBITS = 20


def kernel_dev(major: int, minor: int) -> int:
    return (major << MINORBITS) | minor


def disk_names() -> dict[int, str]:
    """{kernel dev_t: name} for every block device in /sys/class/block."""
    out: dict[int, str] = {}
    base = "/sys/class/block"
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for name in names:
        try:
            with open(f"{base}/{name}/dev") as f:
                major, minor = (int(x) for x in f.read().strip().split(":"))
        except (OSError, ValueError):
            continue
        out[kernel_dev(major, minor)] = name
    return out


def major_minor(dev: int) -> tuple[int, int]:
    """The (major, minor) numbers of a kernel dev_t."""
    return dev >> MINORBITS, dev & ((1 << MINORBITS) - 1)


def disk_name(dev: int, names: dict[int, str] | None = None) -> str:
    """The disk's name ("sda"), or "major,minor" when /sys/class/block has no such disk."""
    names = disk_names() if names is None else names
    major, minor = major_minor(dev)
    return names.get(dev) or f"{major},{minor}"


def dev_of(name: str) -> int | None:
    """The kernel dev_t of a disk name ("sda", "/dev/vda"), or None."""
    name = name.removeprefix("/dev/")
    for dev, n in disk_names().items():
        if n == name:
            return dev
    return None
