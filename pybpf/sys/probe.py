"""Feature probes: does this kernel offer a program type, a map type, a helper? Answered by
trying (create the map, load the smallest program), never by version numbers, and cached in
`featurecache` (EPERM says nothing about the kernel: that answer is asked again)."""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from pybpf.sys import constants as C
from pybpf.sys import featurecache
from pybpf.sys.attrs import MapCreateAttr, ProgLoadAttr
from pybpf.sys.constants import MapType, ProgType
from pybpf.sys.featurecache import UNKNOWN
from pybpf.sys.syscall import addr, bpf_raw

# r0 = 0; exit
_RETURN_ZERO = struct.pack("<BBhiBBhi", 0xB7, 0, 0, 0, 0x95, 0, 0, 0)

# expected attach types the kernel insists on at load time for some program types
_EXPECTED_ATTACH = {
    ProgType.CGROUP_SOCK_ADDR: C.AttachType.CGROUP_INET4_CONNECT,
    ProgType.SK_LOOKUP: C.AttachType.SK_LOOKUP,
    ProgType.NETFILTER: C.AttachType.NETFILTER,
    ProgType.CGROUP_SOCKOPT: C.AttachType.CGROUP_GETSOCKOPT,
}
# program flags the kernel insists on (syscall programs are always sleepable)
LOAD_FLAGS = {ProgType.SYSCALL: C.BPF_F_SLEEPABLE}
# program types that cannot be loaded without an attach target (BTF id or program fd)
NEEDS_TARGET = {ProgType.TRACING, ProgType.EXT, ProgType.LSM, ProgType.STRUCT_OPS}


def _load(ptype: ProgType, code: bytes, log_size: int = 0) -> tuple[int, int, str]:
    buf = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(log_size) if log_size else None
    attr = ProgLoadAttr(prog_type=ptype, insn_cnt=len(code) // 8, insns=addr(buf),
                        license=addr(lic), log_level=1 if log_size else 0, log_size=log_size,
                        log_buf=addr(log))
    if ptype in _EXPECTED_ATTACH:
        attr.expected_attach_type = _EXPECTED_ATTACH[ptype]
    attr.prog_flags = LOAD_FLAGS.get(ptype, 0)
    fd, err = bpf_raw(C.BPF_PROG_LOAD, attr)
    if fd >= 0:
        os.close(fd)
    return fd, err, log.value.decode(errors="replace") if log else ""


def prog_type_refused(ptype: ProgType) -> bool:
    """Whether loading a trivial program of `ptype` is refused for want of privilege (EPERM),
    which says nothing of whether the kernel has the type (not cached)."""
    return ptype not in NEEDS_TARGET and _load(ptype, _RETURN_ZERO)[1] == errno.EPERM


@featurecache.probe(unknown=False)
def prog_type(ptype: ProgType) -> bool | None:
    """True when this kernel loads programs of `ptype`; None when that cannot be told without
    an attach target (tracing, ext, lsm, struct_ops need a BTF id or a program to attach to).
    Without the privilege to try, False (not cached)."""
    if ptype in NEEDS_TARGET:
        return None
    fd, err, _ = _load(ptype, _RETURN_ZERO)
    if fd < 0 and err == errno.EPERM:
        return UNKNOWN  # type: ignore[return-value]
    return fd >= 0


_MAP_PARAMS: dict[MapType, tuple[int, int, int, int]] = {
    # key_size, value_size, max_entries, flags
    MapType.LPM_TRIE: (8, 8, 1, C.BPF_F_NO_PREALLOC),
    MapType.STACK_TRACE: (4, 8, 1, 0),
    MapType.RINGBUF: (0, 0, 4096, 0),
    MapType.USER_RINGBUF: (0, 0, 4096, 0),
    MapType.PERF_EVENT_ARRAY: (4, 4, 1, 0),
    MapType.PROG_ARRAY: (4, 4, 1, 0),
    MapType.CGROUP_ARRAY: (4, 4, 1, 0),
    MapType.DEVMAP: (4, 4, 1, 0),
    MapType.DEVMAP_HASH: (4, 4, 1, 0),
    MapType.CPUMAP: (4, 4, 1, 0),
    MapType.XSKMAP: (4, 4, 1, 0),
    MapType.SOCKMAP: (4, 4, 1, 0),
    MapType.SOCKHASH: (4, 4, 1, 0),
    MapType.REUSEPORT_SOCKARRAY: (4, 4, 1, 0),
    MapType.QUEUE: (0, 8, 1, 0),
    MapType.STACK: (0, 8, 1, 0),
    MapType.BLOOM_FILTER: (0, 8, 1, 0),
    MapType.CGROUP_STORAGE: (16, 8, 0, 0),
    MapType.PERCPU_CGROUP_STORAGE: (16, 8, 0, 0),
    MapType.SK_STORAGE: (4, 8, 0, C.BPF_F_NO_PREALLOC),
    MapType.INODE_STORAGE: (4, 8, 0, C.BPF_F_NO_PREALLOC),
    MapType.TASK_STORAGE: (4, 8, 0, C.BPF_F_NO_PREALLOC),
    MapType.CGRP_STORAGE: (4, 8, 0, C.BPF_F_NO_PREALLOC),
    MapType.ARENA: (0, 0, 1, C.BPF_F_MMAPABLE),
}


@featurecache.probe(unknown=False)
def map_type(mtype: MapType) -> bool:
    """True when this kernel creates maps of `mtype` (False, not cached, without the
    privilege to try)."""
    if mtype in (MapType.UNSPEC, MapType.STRUCT_OPS):
        return False
    if mtype in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
        inner, err = _create(MapType.ARRAY, 4, 4, 1, 0)
        if inner < 0:
            return UNKNOWN if err == errno.EPERM else False  # type: ignore[return-value]
        try:
            fd, err = _create(mtype, 4, 4, 1, 0, inner_fd=inner)
        finally:
            os.close(inner)
    else:
        key, value, entries, flags = _MAP_PARAMS.get(mtype, (4, 8, 1, 0))
        fd, err = _create(mtype, key, value, entries, flags)
    if fd < 0:
        return UNKNOWN if err == errno.EPERM else False  # type: ignore[return-value]
    os.close(fd)
    return True


def _create(mtype: MapType, key: int, value: int, entries: int, flags: int,
            inner_fd: int = 0) -> tuple[int, int]:
    attr = MapCreateAttr(map_type=mtype, key_size=key, value_size=value, max_entries=entries,
                         map_flags=flags, inner_map_fd=inner_fd)
    return bpf_raw(C.BPF_MAP_CREATE, attr)


@featurecache.probe(unknown=False)
def helper(ptype: ProgType, helper_id: int) -> bool:
    """True when programs of `ptype` may call helper `helper_id` on this kernel. The probe loads
    `call helper; r0 = 0; exit`: the verifier rejects unknown or disallowed helpers with
    "invalid func" / "unknown func" / "program of this type cannot use helper"; any other
    complaint (argument types) means the helper itself is allowed."""
    if ptype in NEEDS_TARGET:
        return False
    loads = prog_type.raw(ptype)  # type: ignore[attr-defined]
    if not loads:
        return loads  # UNKNOWN stays unknown
    code = struct.pack("<BBhi", 0x85, 0, 0, helper_id) + _RETURN_ZERO
    fd, err, log = _load(ptype, code, log_size=1 << 16)
    if fd >= 0:
        return True
    if err == errno.EPERM:
        return UNKNOWN  # type: ignore[return-value]
    return not any(s in log for s in ("invalid func", "unknown func",
                                      "cannot use helper", "cannot call"))
