"""Small facts about the machine the link layer asks: online CPUs, interface indexes, PMU
types from sysfs."""

from __future__ import annotations

import os
import re
import socket

from pybpf.link._uapi import CPU_ONLINE, PMU_DIR
from pybpf.link.errors import UnknownTargetError


def online_cpus() -> list[int]:
    """The online CPU numbers, from /sys/devices/system/cpu/online ("0-3,5")."""
    try:
        with open(CPU_ONLINE) as f:
            text = f.read().strip()
    except OSError:
        return list(range(os.cpu_count() or 1))
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def ifindex(ifname_or_index: str | int) -> tuple[int, str]:
    """(index, name) of a network interface in this thread's network namespace."""
    if isinstance(ifname_or_index, int):
        try:
            return ifname_or_index, socket.if_indextoname(ifname_or_index)
        except OSError:
            raise UnknownTargetError(f"there is no network interface with index "
                                     f"{ifname_or_index} in this network namespace") from None
    try:
        return socket.if_nametoindex(ifname_or_index), ifname_or_index
    except OSError:
        names = [n for _, n in socket.if_nameindex()]
        raise UnknownTargetError(
            f"there is no network interface {ifname_or_index!r} in this network namespace "
            f"(interfaces here: {', '.join(names)})") from None


def pmu_dir(name: str) -> str | None:
    path = os.path.join(PMU_DIR, name)
    return path if os.path.isdir(path) else None


def pmu_type(name: str) -> int | None:
    """The perf `type` of dynamic PMU `name` (kprobe, uprobe), or None when absent."""
    path = pmu_dir(name)
    if path is None:
        return None
    try:
        with open(os.path.join(path, "type")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def pmu_format_bit(name: str, field: str) -> int | None:
    """The config bit of a one-bit format field ("config:0" -> 0), or None."""
    path = pmu_dir(name)
    if path is None:
        return None
    try:
        with open(os.path.join(path, "format", field)) as f:
            m = re.fullmatch(r"config:(\d+)", f.read().strip())
    except OSError:
        return None
    return int(m.group(1)) if m else None
