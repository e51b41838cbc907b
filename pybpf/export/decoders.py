"""Label decoders: a map key's integer (or bytes) to the label text Prometheus shows.

    int       123                          str, comm   b"bash\\0..." -> "bash"
    hex       0xffffffff81000000           ksym        kernel address -> "do_sys_openat2"
    syscall   39 -> "getpid" (x86-64)      errno       2 or -2 -> "ENOENT", 0 -> "0"
    inet      IPv4 as the u32 the kernel stores (network order in memory), an IPv6 address as a
              128-bit int, 16 bytes or a (hi, lo) pair -> "198.18.0.1" / "2001:2::1"
    dev       kernel dev_t (major << 20 | minor) -> "8:0"
    disk      kernel dev_t -> "sda" ("8:0" when no such disk)
    cgroup    cgroup v2 id (the directory's inode) -> "/system.slice/ssh.service"
    static    {value: text} given in the declaration (YAML mapping or dict), else the number

Every decoder returns text; a value it cannot decode raises DecodeError, which the collector
counts in pybpf_export_decode_errors_total and replaces by the raw number. Decoders that look
things up (ksym, cgroup, disk) cache a bounded number of answers.
"""

from __future__ import annotations

import errno as errno_mod
import ipaddress
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

Decoder = Callable[[Any], str]
CACHE_SIZE = 4096
CGROUP_ROOT = "/sys/fs/cgroup"
MINORBITS = 20


class DecodeError(ValueError):
    pass


class BoundedCache:
    """A least-recently-used dict of at most `size` entries."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.data: OrderedDict[Any, str] = OrderedDict()

    def get(self, key: Any) -> str | None:
        v = self.data.get(key)
        if v is not None:
            self.data.move_to_end(key)
        return v

    def put(self, key: Any, value: str) -> str:
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)
        return value


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise DecodeError(f"expected an integer, got {type(v).__name__}")
    return v


def dec_int(v: Any) -> str:
    return str(_int(v))


def dec_hex(v: Any) -> str:
    return hex(_int(v))


def dec_str(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).split(b"\0", 1)[0].decode(errors="replace")
    if isinstance(v, str):
        return v.split("\0", 1)[0]
    raise DecodeError(f"expected bytes or str, got {type(v).__name__}")


def dec_syscall(v: Any) -> str:
    from pybpf.names.syscalls import X86_64

    nr = _int(v)
    name = X86_64.get(nr)
    if name is None:
        raise DecodeError(f"unknown syscall number {nr}")
    return name


def dec_errno(v: Any) -> str:
    n = abs(_int(v))
    if n >= 1 << 31:  # a negative s32/s64 read as unsigned
        n = (1 << 64) - n if n >= 1 << 63 else (1 << 32) - n
    if n == 0:
        return "0"
    name = errno_mod.errorcode.get(n)
    if name is None:
        raise DecodeError(f"unknown errno {n}")
    return name


def dec_inet(v: Any) -> str:
    if isinstance(v, tuple) and len(v) == 2:
        hi, lo = _int(v[0]), _int(v[1])
        return str(ipaddress.IPv6Address((hi << 64) | lo))
    if isinstance(v, (bytes, bytearray)):
        if len(v) == 4:
            return str(ipaddress.IPv4Address(bytes(v)))
        if len(v) == 16:
            return str(ipaddress.IPv6Address(bytes(v)))
        raise DecodeError(f"an address of {len(v)} bytes")
    n = _int(v)
    if 0 <= n < 1 << 32:  # the u32 a tracepoint's __u8[4] makes on a little-endian machine
        return str(ipaddress.IPv4Address(n.to_bytes(4, "little")))
    if 0 <= n < 1 << 128:
        return str(ipaddress.IPv6Address(n))
    raise DecodeError(f"{n} is not an address")


def dec_dev(v: Any) -> str:
    n = _int(v)
    return f"{n >> MINORBITS}:{n & ((1 << MINORBITS) - 1)}"


_disks = BoundedCache(256)


def dec_disk(v: Any) -> str:
    n = _int(v)
    hit = _disks.get(n)
    if hit is not None:
        return hit
    from pybpf.names.disks import disk_names

    names = disk_names()
    return _disks.put(n, names.get(n) or dec_dev(n))


class CgroupPaths:
    """cgroup v2 ids (the inode numbers of the cgroup directories) to paths, by walking the
    hierarchy when an id is not yet known (bounded cache)."""

    def __init__(self, root: str = CGROUP_ROOT, size: int = CACHE_SIZE) -> None:
        self.root = root
        self.cache = BoundedCache(size)

    def __call__(self, v: Any) -> str:
        cid = _int(v)
        hit = self.cache.get(cid)
        if hit is not None:
            return hit
        from pybpf.link.cgroup import cgroup_by_id

        path = cgroup_by_id(self.root, cid)
        if path is None:
            raise DecodeError(f"no cgroup with id {cid}")
        return self.cache.put(cid, path)


def static(table: Mapping[Any, Any], default: str | None = None) -> Decoder:
    """A decoder from a fixed table; values not in it give `default`, or their number."""
    keys = {(int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k): str(v)
            for k, v in table.items()}

    def decode(v: Any) -> str:
        if v in keys:
            return keys[v]
        if default is not None:
            return default
        return str(v)

    return decode


def _ksym() -> Decoder:
    from pybpf.symbols.kallsyms import KernelSymbols

    syms: list[Any] = []
    cache = BoundedCache()

    def decode(v: Any) -> str:
        addr = _int(v)
        hit = cache.get(addr)
        if hit is not None:
            return hit
        if not syms:
            syms.append(KernelSymbols())
        found = syms[0].lookup(addr)
        if found is None:
            raise DecodeError(f"no kernel symbol at {addr:#x}")
        return cache.put(addr, found[0].name)

    return decode


NAMES: dict[str, Callable[[], Decoder]] = {
    "int": lambda: dec_int, "hex": lambda: dec_hex, "str": lambda: dec_str,
    "comm": lambda: dec_str, "syscall": lambda: dec_syscall, "errno": lambda: dec_errno,
    "inet": lambda: dec_inet, "dev": lambda: dec_dev, "disk": lambda: dec_disk,
    "cgroup": CgroupPaths, "ksym": _ksym,
}


def resolve(spec: Any) -> Decoder:
    """A decoder from its name, a {value: text} mapping (static), or a callable."""
    if spec is None:
        return dec_int
    if callable(spec):
        return spec
    if isinstance(spec, Mapping):
        return static(spec)
    if isinstance(spec, str) and spec in NAMES:
        return NAMES[spec]()
    raise ValueError(f"unknown decoder {spec!r} (one of {', '.join(sorted(NAMES))}, "
                     "or a mapping for a static table)")
