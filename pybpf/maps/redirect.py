"""Targets of XDP redirects (bpf_redirect_map): network devices, CPUs, AF_XDP sockets."""

from __future__ import annotations

from typing import Any

from pybpf.maps.base import Map, possible_cpus
from pybpf.sys import (
    MapType,
)


class DevMap(Map):
    """BPF_MAP_TYPE_DEVMAP: index -> interface (ifindex) for XDP redirects."""

    map_type = MapType.DEVMAP
    default_max_entries = 64
    supports_batch = False

    def __init__(self, max_entries: int | None = None, name: str | None = None) -> None:
        super().__init__("u32", "u32", max_entries, name)

    def _pack_value(self, value: Any) -> bytes:
        if isinstance(value, str):
            import socket

            value = socket.if_nametoindex(value)
        return int(value).to_bytes(4, "little")


class DevMapHash(DevMap):
    map_type = MapType.DEVMAP_HASH


class CpuMap(Map):
    """BPF_MAP_TYPE_CPUMAP: cpu -> queue size, for XDP redirects to another CPU."""

    map_type = MapType.CPUMAP
    supports_batch = False

    def __init__(self, max_entries: int | None = None, name: str | None = None) -> None:
        super().__init__("u32", "u32", max_entries or possible_cpus(), name)


class XskMap(Map):
    """BPF_MAP_TYPE_XSKMAP: queue -> AF_XDP socket fd."""

    map_type = MapType.XSKMAP
    default_max_entries = 64
    supports_batch = False

    def __init__(self, max_entries: int | None = None, name: str | None = None) -> None:
        super().__init__("u32", "u32", max_entries, name)

    def _pack_value(self, value: Any) -> bytes:
        fd = value.fileno() if hasattr(value, "fileno") else int(value)
        return fd.to_bytes(4, "little")
