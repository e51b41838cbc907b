"""Check that a map object handed to a reader is the map type the reader needs.

The type is asked of the kernel (BPF_OBJ_GET_INFO_BY_FD), so a stand-in object that only has
`.fd` works as well as a `pybpf.maps` class.
"""

from __future__ import annotations

import ctypes

from pybpf.sys import BPFError, MapType, bpf
from pybpf.sys.attrs import InfoByFdAttr, MapInfo
from pybpf.sys.constants import BPF_OBJ_GET_INFO_BY_FD


def map_fd(map_obj: object, reader: str) -> int:
    """The file descriptor of `map_obj` (an object with `.fd`, or an int)."""
    fd = map_obj if isinstance(map_obj, int) else getattr(map_obj, "fd", None)
    if fd is None:
        raise TypeError(f"{reader} needs a BPF map object with a .fd attribute (or an fd number), "
                        f"not {type(map_obj).__name__}")
    return int(fd)


def map_info(fd: int) -> MapInfo:
    info = MapInfo()
    attr = InfoByFdAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    bpf(BPF_OBJ_GET_INFO_BY_FD, attr, what=f"reading the map info of fd {fd}")
    return info


def checked_map(map_obj: object, expected: MapType, reader: str, hint: str) -> tuple[int, MapInfo]:
    """(fd, info) of `map_obj`; TypeError with a sentence when it is not an `expected` map."""
    fd = map_fd(map_obj, reader)
    try:
        info = map_info(fd)
    except BPFError as err:
        raise TypeError(f"{reader} needs a BPF map, but fd {fd} is not one ({err})") from err
    if info.type != expected:
        try:
            got = f"BPF_MAP_TYPE_{MapType(info.type).name}"
        except ValueError:
            got = f"map type {info.type}"
        raise TypeError(f"{reader} reads a BPF_MAP_TYPE_{expected.name} map, but this map is a "
                        f"{got}; {hint}")
    return fd, info
