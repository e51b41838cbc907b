"""BPF maps with a Python mapping API: one class per map type, typed keys and values.

    counts = maps.Hash(key="char[16]", value="u64", max_entries=10240)
    counts["bash"] = 1
    for comm, n in counts.items(): ...

Keys and values are type specs understood by `pybpf.types.codec` ("u32", "char[16]", ctypes
types and Structures). Per-CPU maps read back a list with one value per possible CPU.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import ipaddress
from collections.abc import Iterator
from typing import Any, ClassVar, Self

from pybpf.sys import (
    FD,
    BPFError,
    MapFullError,
    MapType,
    NotSupportedError,
    addr,
    bpf_raw,
    error_from_errno,
    objects,
    probe,
)
from pybpf.sys import constants as C
from pybpf.sys.attrs import MapBatchAttr, MapCreateAttr, MapElemAttr
from pybpf.types import Codec, codec

PERF_MAX_STACK_DEPTH = 127


@functools.cache
def possible_cpus() -> int:
    """The number of possible CPUs: the size of every per-CPU value array."""
    with open("/sys/devices/system/cpu/possible") as f:
        return _cpu_list_len(f.read())


def _cpu_list_len(text: str) -> int:
    highest = 0
    for part in text.strip().split(","):
        lo, _, hi = part.partition("-")
        highest = max(highest, int(hi or lo))
    return highest + 1


def _valid_name(name: str) -> bytes:
    clean = "".join(c if c.isalnum() or c in "_." else "_" for c in name)
    return clean[: C.BPF_OBJ_NAME_LEN - 1].encode()


class Map:
    """A BPF map: owns its fd (closed by `close()`, the context manager or garbage collection).
    Subclasses fix the map type; `Map.from_id` opens any existing map with raw byte keys."""

    map_type: ClassVar[MapType] = MapType.UNSPEC
    default_max_entries: ClassVar[int] = 10240
    default_flags: ClassVar[int] = 0
    # what the compiler needs to know of the type: how programs reach elements ("hash": a
    # lookup may miss and inserts make room; "array": every index exists; "ringbuf",
    # "stack_trace", "perf_event_array": reached through their own helpers), whether each
    # CPU has its own value (plain adds, no atomics), and whether an insert can be refused
    # because the map is full (the compiler then counts refusals in the kernel)
    compiler_kind: ClassVar[str] = "hash"
    per_cpu: ClassVar[bool] = False
    counts_refusals: ClassVar[bool] = True

    def __init__(self, key: Any = "u32", value: Any = "u64", max_entries: int | None = None,
                 name: str | None = None, flags: int = 0, inner_map: Map | None = None) -> None:
        self.key_codec: Codec = codec(key)
        self.value_codec: Codec = codec(value)
        self.max_entries = self.default_max_entries if max_entries is None else max_entries
        self.name = name or type(self).__name__.lower()
        self.flags = flags | self.default_flags
        self.fd = self._create(self._key_size(), self.value_codec.size, inner_map)

    # -- creation -------------------------------------------------------------------------
    def _key_size(self) -> int:
        return self.key_codec.size

    def _value_size(self) -> int:
        """Bytes of one value as user space reads it (all CPUs' values for per-CPU maps)."""
        return self.value_codec.size

    def _create(self, key_size: int, value_size: int, inner_map: Map | None) -> FD:
        attr = MapCreateAttr(map_type=self.map_type, key_size=key_size, value_size=value_size,
                             max_entries=self.max_entries, map_flags=self.flags,
                             map_name=_valid_name(self.name),
                             inner_map_fd=inner_map.fd.fileno() if inner_map else 0)
        fd, err = bpf_raw(C.BPF_MAP_CREATE, attr)
        if fd < 0:
            what = f"creating {self.map_type.name} map '{self.name}'"
            if err == errno.EINVAL and not probe.map_type(self.map_type):
                raise NotSupportedError(f"{what}: map type {self.map_type.name} is not "
                                        "supported by this kernel", err)
            if err == errno.EINVAL:
                raise BPFError(f"{what} failed: the kernel rejected key size {key_size}, value "
                               f"size {value_size}, max_entries {self.max_entries} or flags "
                               f"{self.flags:#x}", err)
            raise error_from_errno(err, what)
        return FD(fd)

    @classmethod
    def from_id(cls, map_id: int) -> Map:
        """Open an existing map by id, with raw bytes keys and values."""
        fd = objects.fd_by_id("map", map_id)
        info = objects.map_info(fd.fileno())
        by_type = {c.map_type: c for c in _all_subclasses(Map)}
        self = object.__new__(by_type.get(MapType(info.type), Map) if info.type in
                              MapType._value2member_map_ else Map)
        self.fd = fd
        self.key_codec, self.value_codec = codec(info.key_size or 0), codec(info.value_size or 0)
        self.max_entries, self.flags = info.max_entries, info.map_flags
        self.name = info.name.decode(errors="replace")
        return self

    def info(self) -> Any:
        return objects.map_info(self.fd.fileno())

    @property
    def id(self) -> int:
        return self.info().id

    def close(self) -> None:
        self.fd.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.fd.closed else f"fd={self.fd.fileno()}"
        return (f"<{type(self).__name__} {self.name!r} key={self.key_codec.spec} "
                f"value={self.value_codec.spec} max_entries={self.max_entries} {state}>")

    # -- codecs ---------------------------------------------------------------------------
    def _pack_key(self, key: Any) -> bytes:
        try:
            return self.key_codec.pack(key)
        except ValueError as e:
            raise KeyError(f"map '{self.name}': bad key: {e}") from None

    def _unpack_key(self, raw: bytes) -> Any:
        return self.key_codec.unpack(raw)

    def _pack_value(self, value: Any) -> bytes:
        try:
            return self.value_codec.pack(value)
        except ValueError as e:
            raise ValueError(f"map '{self.name}': bad value: {e}") from None

    def _unpack_value(self, raw: bytes) -> Any:
        return self.value_codec.unpack(raw)

    # -- raw element operations ------------------------------------------------------------
    def _elem(self, cmd: int, key: bytes | None, value: ctypes.Array | None,
              flags: int = 0) -> int:
        kbuf = ctypes.create_string_buffer(key, len(key)) if key is not None else None
        attr = MapElemAttr(map_fd=self.fd.fileno(), key=addr(kbuf), value=addr(value),
                           flags=flags)
        ret, err = bpf_raw(cmd, attr)
        return err if ret < 0 else 0

    def lookup_raw(self, key: bytes) -> bytes | None:
        buf = ctypes.create_string_buffer(self._value_size())
        err = self._elem(C.BPF_MAP_LOOKUP_ELEM, key, buf)
        if err == errno.ENOENT:
            return None
        if err:
            raise error_from_errno(err, f"looking up a key of map '{self.name}'")
        return buf.raw

    def update_raw(self, key: bytes, value: bytes, flags: int = C.BPF_ANY) -> None:
        buf = ctypes.create_string_buffer(value, len(value))
        err = self._elem(C.BPF_MAP_UPDATE_ELEM, key, buf, flags)
        if err == errno.E2BIG:
            raise MapFullError(f"map '{self.name}' is full: it holds max_entries="
                               f"{self.max_entries} elements", err)
        if err == errno.EEXIST:
            raise KeyError(f"map '{self.name}': key exists (BPF_NOEXIST)")
        if err == errno.ENOENT and flags == C.BPF_EXIST:
            raise KeyError(f"map '{self.name}': key does not exist (BPF_EXIST)")
        if err:
            raise error_from_errno(err, f"updating map '{self.name}'")

    def delete_raw(self, key: bytes) -> bool:
        err = self._elem(C.BPF_MAP_DELETE_ELEM, key, None)
        if err == errno.ENOENT:
            return False
        if err:
            raise error_from_errno(err, f"deleting from map '{self.name}'")
        return True

    def raw_keys(self) -> Iterator[bytes]:
        """Keys in the kernel's order, via BPF_MAP_GET_NEXT_KEY."""
        ksize = self._key_size()
        nxt = ctypes.create_string_buffer(ksize)
        err = self._elem(C.BPF_MAP_GET_NEXT_KEY, None, nxt)
        while not err:
            key = nxt.raw
            yield key
            err = self._elem(C.BPF_MAP_GET_NEXT_KEY, key, nxt)
        if err != errno.ENOENT:
            raise error_from_errno(err, f"iterating map '{self.name}'")

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) bytes, by batch lookup where the kernel has it for this map."""
        batched = self._batch_items()
        if batched is not None:
            yield from batched
            return
        for key in self.raw_keys():
            value = self.lookup_raw(key)
            if value is not None:  # deleted meanwhile
                yield key, value

    supports_batch: ClassVar[bool] = True

    def _batch_items(self) -> list[tuple[bytes, bytes]] | None:
        if not self.supports_batch:
            return None
        ksize, vsize = self._key_size(), self._value_size()
        chunk = max(1, min(self.max_entries, 4096))
        keys = ctypes.create_string_buffer(ksize * chunk)
        values = ctypes.create_string_buffer(vsize * chunk)
        token_in = ctypes.create_string_buffer(max(ksize, 8))
        token_out = ctypes.create_string_buffer(max(ksize, 8))
        out: list[tuple[bytes, bytes]] = []
        first = True
        while True:
            attr = MapBatchAttr(in_batch=0 if first else addr(token_in),
                                out_batch=addr(token_out), keys=addr(keys),
                                values=addr(values), count=chunk, map_fd=self.fd.fileno())
            ret, err = bpf_raw(C.BPF_MAP_LOOKUP_BATCH, attr)
            if ret < 0 and err not in (errno.ENOENT,):
                if first and err in (errno.EINVAL, errno.ENOTSUP, C.ENOTSUPP, errno.EFAULT):
                    type(self).supports_batch = False
                    return None
                if err == errno.ENOSPC:  # a hash bucket larger than the chunk: walk instead
                    return None
                raise error_from_errno(err, f"batch lookup of map '{self.name}'")
            kraw, vraw = keys.raw, values.raw
            for i in range(attr.count):
                out.append((kraw[i * ksize:(i + 1) * ksize], vraw[i * vsize:(i + 1) * vsize]))
            if ret < 0:  # ENOENT: that was the last batch
                return out
            ctypes.memmove(token_in, token_out, len(token_out))
            first = False

    # -- the mapping API --------------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        raw = self.lookup_raw(self._pack_key(key))
        if raw is None:
            raise KeyError(key)
        return self._unpack_value(raw)

    def get(self, key: Any, default: Any = None) -> Any:
        raw = self.lookup_raw(self._pack_key(key))
        return default if raw is None else self._unpack_value(raw)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.update_raw(self._pack_key(key), self._pack_value(value))

    def update(self, key: Any, value: Any, flags: int = C.BPF_ANY) -> None:
        """Set with BPF_ANY / BPF_NOEXIST / BPF_EXIST."""
        self.update_raw(self._pack_key(key), self._pack_value(value), flags)

    def __delitem__(self, key: Any) -> None:
        if not self.delete_raw(self._pack_key(key)):
            raise KeyError(key)

    def pop(self, key: Any, *default: Any) -> Any:
        raw_key = self._pack_key(key)
        raw = self.lookup_raw(raw_key)
        if raw is None:
            if default:
                return default[0]
            raise KeyError(key)
        self.delete_raw(raw_key)
        return self._unpack_value(raw)

    def __contains__(self, key: Any) -> bool:
        return self.lookup_raw(self._pack_key(key)) is not None

    def __iter__(self) -> Iterator[Any]:
        return self.keys()

    def keys(self) -> Iterator[Any]:
        return (self._unpack_key(k) for k in self.raw_keys())

    def values(self) -> Iterator[Any]:
        return (v for _, v in self.items())

    def items(self) -> Iterator[tuple[Any, Any]]:
        return ((self._unpack_key(k), self._unpack_value(v)) for k, v in self.raw_items())

    def __len__(self) -> int:
        return sum(1 for _ in self.raw_keys())

    def clear(self) -> None:
        # collect first: deleting while walking restarts hash iteration
        for key in list(self.raw_keys()):
            self.delete_raw(key)


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


class Hash(Map):
    map_type = MapType.HASH


class LRUHash(Map):
    map_type = MapType.LRU_HASH
    counts_refusals = False  # makes room by evicting the least recently used


class Array(Map):
    """Fixed-size array: keys 0..max_entries-1 always exist (zero until set); no deletes."""

    map_type = MapType.ARRAY
    compiler_kind = "array"
    counts_refusals = False
    default_max_entries = 1

    def __init__(self, key: Any = "u32", value: Any = "u64", max_entries: int | None = None,
                 name: str | None = None, flags: int = 0) -> None:
        if codec(key).size != 4:
            raise ValueError("array map keys are u32 indices")
        super().__init__(key, value, max_entries, name, flags)

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, int) and not 0 <= key < self.max_entries:
            raise IndexError(f"array map '{self.name}' has indices 0..{self.max_entries - 1}; "
                             f"got {key}")
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        raise TypeError(f"array map '{self.name}': elements cannot be deleted; "
                        "set them to zero instead")

    def __len__(self) -> int:
        return self.max_entries

    def clear(self) -> None:
        zero = bytes(self._value_size())
        for i in range(self.max_entries):
            self.update_raw(self._pack_key(i), zero)


class _PerCPU(Map):
    """Per-CPU values: the user-space view is a list, one value per possible CPU, each padded
    to 8 bytes by the kernel."""

    def _value_size(self) -> int:
        return _round8(self.value_codec.size) * possible_cpus()

    def _pack_value(self, value: Any) -> bytes:
        ncpu, slot = possible_cpus(), _round8(self.value_codec.size)
        values = list(value) if isinstance(value, list | tuple) else [value] * ncpu
        if len(values) != ncpu:
            raise ValueError(f"map '{self.name}': a per-CPU value needs {ncpu} items "
                             f"(one per possible CPU), got {len(values)}")
        return b"".join(super(_PerCPU, self)._pack_value(v).ljust(slot, b"\0")
                        for v in values)

    def _unpack_value(self, raw: bytes) -> list[Any]:
        slot = _round8(self.value_codec.size)
        return [self.value_codec.unpack(raw[i * slot:(i + 1) * slot])
                for i in range(possible_cpus())]

    def sum(self, key: Any) -> int:
        """The sum over CPUs of an integer per-CPU value (0 when the key is absent)."""
        values = self.get(key)
        return sum(values) if values else 0


def _round8(n: int) -> int:
    return (n + 7) & ~7


class PerCPUHash(_PerCPU):
    map_type = MapType.PERCPU_HASH
    per_cpu = True


class LRUPerCPUHash(_PerCPU):
    map_type = MapType.LRU_PERCPU_HASH
    per_cpu = True
    counts_refusals = False


class PerCPUArray(_PerCPU, Array):
    map_type = MapType.PERCPU_ARRAY
    per_cpu = True

    def clear(self) -> None:
        zero = bytes(self._value_size())
        for i in range(self.max_entries):
            self.update_raw(self._pack_key(i), zero)


class LPMTrie(Map):
    """Longest-prefix-match trie. Keys are (prefixlen, data) pairs, or ipaddress networks and
    addresses when `data` is "ipv4" or "ipv6". Looking up a full-length key (an address) gives
    the value of the longest matching prefix."""

    map_type = MapType.LPM_TRIE
    default_flags = C.BPF_F_NO_PREALLOC
    supports_batch = False

    def __init__(self, data: Any = "ipv4", value: Any = "u64", max_entries: int | None = None,
                 name: str | None = None, flags: int = 0) -> None:
        self.ip_version = {"ipv4": 4, "ipv6": 6}.get(data) if isinstance(data, str) else None
        data_codec = codec({4: "u8[4]", 6: "u8[16]"}.get(self.ip_version or 0, data))
        self.data_codec = data_codec
        super().__init__(4 + data_codec.size, value, max_entries, name, flags)

    def _pack_key(self, key: Any) -> bytes:
        if isinstance(key, str) and self.ip_version:
            key = ipaddress.ip_network(key, strict=False) if "/" in key \
                else ipaddress.ip_address(key)
        if isinstance(key, ipaddress.IPv4Network | ipaddress.IPv6Network):
            self._check_version(key.version, key)
            prefixlen, data = key.prefixlen, key.network_address.packed
        elif isinstance(key, ipaddress.IPv4Address | ipaddress.IPv6Address):
            self._check_version(key.version, key)
            prefixlen, data = key.max_prefixlen, key.packed
        else:
            try:
                prefixlen, value = key
                data = self.data_codec.pack(value)
            except (TypeError, ValueError) as e:
                raise KeyError(f"LPM trie '{self.name}': a key is (prefixlen, data) or an "
                               f"IP network/address: {e}") from None
        if not 0 <= prefixlen <= self.data_codec.size * 8:
            raise KeyError(f"LPM trie '{self.name}': prefix length {prefixlen} is out of "
                           f"0..{self.data_codec.size * 8}")
        return prefixlen.to_bytes(4, "little") + data

    def _check_version(self, version: int, key: Any) -> None:
        if self.ip_version and version != self.ip_version:
            raise KeyError(f"LPM trie '{self.name}' holds IPv{self.ip_version} keys, "
                           f"not {key}")

    def _unpack_key(self, raw: bytes) -> Any:
        prefixlen, data = int.from_bytes(raw[:4], "little"), raw[4:]
        if self.ip_version:
            return ipaddress.ip_network((data, prefixlen))
        return prefixlen, self.data_codec.unpack(data)


class StackTrace(Map):
    """BPF_MAP_TYPE_STACK_TRACE: stack id -> instruction pointers (innermost first)."""

    map_type = MapType.STACK_TRACE
    compiler_kind = "stack_trace"
    supports_batch = False

    def __init__(self, max_entries: int | None = None, depth: int = PERF_MAX_STACK_DEPTH,
                 name: str | None = None, flags: int = 0) -> None:
        super().__init__("u32", f"u64[{depth}]", max_entries, name, flags)

    def _unpack_value(self, raw: bytes) -> list[int]:
        ips = super()._unpack_value(raw)
        n = len(ips)
        while n and not ips[n - 1]:
            n -= 1
        return list(ips[:n])

    def stack(self, stack_id: int) -> list[int]:
        """The addresses of one stack ([] for a negative id: the helper's error code)."""
        return [] if stack_id < 0 else self.get(stack_id, [])


class ProgArray(Map):
    """Tail-call table: index -> program. `m[i] = prog` stores the program's fd; reading gives
    the program id."""

    map_type = MapType.PROG_ARRAY
    default_max_entries = 16
    supports_batch = False

    def __init__(self, max_entries: int | None = None, name: str | None = None) -> None:
        super().__init__("u32", "u32", max_entries, name)

    def _pack_value(self, value: Any) -> bytes:
        fd = value.fd.fileno() if hasattr(value, "fd") else int(value)
        return fd.to_bytes(4, "little")


class RingBuf(Map):
    """BPF_MAP_TYPE_RINGBUF of `size` bytes (a power of two, a multiple of the page size).
    `poll(timeout_ms)` returns the records that arrived, as bytes."""

    map_type = MapType.RINGBUF
    compiler_kind = "ringbuf"
    supports_batch = False
    _reader: Any = None

    def __init__(self, size: int = 256 * 1024, name: str | None = None) -> None:
        if size <= 0 or size & (size - 1) or size % 4096:
            raise ValueError(f"ring buffer size {size} must be a power of two and a multiple "
                             "of the page size (4096)")
        self._reader: Any = None
        super().__init__(0, 0, size, name)

    def reader(self) -> Any:
        """The mmap reader of this ring buffer (created on first use)."""
        if self._reader is None:
            from pybpf.events import RingBufReader

            self._reader = RingBufReader(self)
        return self._reader

    def poll(self, timeout_ms: int = -1) -> list[bytes]:
        return self.reader().poll(timeout_ms)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.reader())

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        super().close()

    def __getitem__(self, key: Any) -> Any:
        raise TypeError("a ring buffer has no keys: read it with poll()")

    __setitem__ = __delitem__ = __getitem__  # type: ignore[assignment]


class PerfEventArray(Map):
    """BPF_MAP_TYPE_PERF_EVENT_ARRAY: one perf ring per CPU. `open_reader()` opens the per-CPU
    events and returns a reader with `poll()` and `.lost`."""

    map_type = MapType.PERF_EVENT_ARRAY
    compiler_kind = "perf_event_array"
    supports_batch = False
    _reader: Any = None

    def __init__(self, max_entries: int | None = None, name: str | None = None) -> None:
        self._reader: Any = None
        super().__init__("u32", "u32", max_entries or possible_cpus(), name)

    def open_reader(self, page_count: int = 8, cpus: list[int] | None = None) -> Any:
        from pybpf.events import PerfBufReader

        if self._reader is None:
            self._reader = PerfBufReader(self, page_count=page_count, cpus=cpus)
        return self._reader

    def poll(self, timeout_ms: int = -1) -> list[bytes]:
        return self.open_reader().poll(timeout_ms)

    @property
    def lost(self) -> int:
        return self._reader.lost if self._reader is not None else 0

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        super().close()


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


class ArrayOfMaps(Map):
    map_type = MapType.ARRAY_OF_MAPS
    supports_batch = False

    def __init__(self, inner: Map, max_entries: int | None = None,
                 name: str | None = None) -> None:
        super().__init__("u32", "u32", max_entries or 1, name, inner_map=inner)

    def _pack_value(self, value: Any) -> bytes:
        return value.fd.fileno().to_bytes(4, "little")


__all__ = [
    "Array", "ArrayOfMaps", "CpuMap", "DevMap", "DevMapHash", "XskMap", "Hash", "LPMTrie", "LRUHash", "LRUPerCPUHash", "Map",
    "PerCPUArray", "PerCPUHash", "PerfEventArray", "ProgArray", "RingBuf", "StackTrace",
    "possible_cpus",
]
