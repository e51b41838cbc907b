"""Kernel object enumeration and info: ids of loaded programs, maps, links and BTF objects,
fds by id, and bpf_{prog,map,link}_info by fd (what bpftool's listings show)."""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Iterator
from typing import Literal, TypeVar

from pybpf.sys import constants as C
from pybpf.sys.attrs import GetIdAttr, InfoByFdAttr, LinkInfo, MapInfo, ProgInfo
from pybpf.sys.fd import FD
from pybpf.sys.syscall import bpf, bpf_raw

Kind = Literal["prog", "map", "link", "btf"]
_NEXT_ID = {"prog": C.BPF_PROG_GET_NEXT_ID, "map": C.BPF_MAP_GET_NEXT_ID,
            "link": C.BPF_LINK_GET_NEXT_ID, "btf": C.BPF_BTF_GET_NEXT_ID}
_FD_BY_ID = {"prog": C.BPF_PROG_GET_FD_BY_ID, "map": C.BPF_MAP_GET_FD_BY_ID,
             "link": C.BPF_LINK_GET_FD_BY_ID, "btf": C.BPF_BTF_GET_FD_BY_ID}

InfoT = TypeVar("InfoT", ProgInfo, MapInfo, LinkInfo)


def ids(kind: Kind) -> Iterator[int]:
    """The ids of all loaded kernel objects of one kind, in increasing order."""
    attr = GetIdAttr(start_id=0)
    while True:
        ret, err = bpf_raw(_NEXT_ID[kind], attr)
        if ret < 0:
            if err == errno.ENOENT:
                return
            bpf(_NEXT_ID[kind], attr)  # raises the typed error
        yield attr.next_id
        attr = GetIdAttr(start_id=attr.next_id)


def fd_by_id(kind: Kind, obj_id: int) -> FD:
    attr = GetIdAttr(start_id=obj_id)
    return FD(bpf(_FD_BY_ID[kind], attr, f"bpf(get {kind} fd by id {obj_id})"))


def info_by_fd(fd: int, info: InfoT) -> InfoT:
    """Fill `info` (a ProgInfo, MapInfo or LinkInfo, with any array pointers already set)."""
    attr = InfoByFdAttr(bpf_fd=int(fd), info_len=ctypes.sizeof(info),
                        info=ctypes.addressof(info))
    bpf(C.BPF_OBJ_GET_INFO_BY_FD, attr)
    return info


def prog_info(fd: int) -> ProgInfo:
    return info_by_fd(fd, ProgInfo())


def map_info(fd: int) -> MapInfo:
    return info_by_fd(fd, MapInfo())


def link_info(fd: int) -> LinkInfo:
    return info_by_fd(fd, LinkInfo())


def enable_stats() -> FD:
    """BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): the kernel counts run time and run count for every
    program while the returned fd stays open."""
    from pybpf.sys.attrs import EnableStatsAttr

    return FD(bpf(C.BPF_ENABLE_STATS, EnableStatsAttr(type=C.BPF_STATS_RUN_TIME)))
