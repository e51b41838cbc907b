"""The base of every map class: the fd, creation with clear errors, element and batch
operations on raw bytes, and the typed mapping API on top (keys and values packed by their
codecs)."""

from __future__ import annotations

import ctypes
import errno
import functools
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


U32_MAX = 2**32 - 1
# what the kernel checks of the sizes, per map type: bpf_attr's fields are u32, so a larger
# number would be truncated by ctypes (2**32 + 16 entries made a map of 16) rather than refused.
# Local storage maps have no size (the kernel wants max_entries 0); queues, stacks, bloom
# filters, ring buffers and arenas have no key, ring buffers and arenas no value.
_NO_MAX_ENTRIES = frozenset({MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE,
                             MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE,
                             MapType.CGRP_STORAGE})
_NO_KEY = frozenset({MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER, MapType.RINGBUF,
                     MapType.USER_RINGBUF, MapType.ARENA})
_NO_VALUE = frozenset({MapType.RINGBUF, MapType.USER_RINGBUF, MapType.ARENA})


def check_sizes(map_type: MapType, name: str, key_size: Any, value_size: Any,
                max_entries: Any) -> None:
    """Refuse sizes that bpf(BPF_MAP_CREATE) cannot take as given: not an int, negative, over
    u32, or 0 where the map type needs a size. (ValueError, TypeError for a non-int.)"""
    entries = (0, 0) if map_type in _NO_MAX_ENTRIES else (1, U32_MAX)
    for what, value, (lo, hi) in (
            ("key size", key_size, (0 if map_type in _NO_KEY else 1, U32_MAX)),
            ("value size", value_size, (0 if map_type in _NO_VALUE else 1, U32_MAX)),
            ("max_entries", max_entries, entries)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"map '{name}': {what} must be an int, not "
                            f"{type(value).__name__}")
        if not lo <= value <= hi:
            allowed = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise ValueError(f"map '{name}': {what} {value} is out of range for a "
                             f"{map_type.name} map (give {allowed}: the kernel takes a u32)")


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
        check_sizes(self.map_type, self.name, key_size, value_size, self.max_entries)
        if not isinstance(self.flags, int) or not 0 <= self.flags <= U32_MAX:
            raise ValueError(f"map '{self.name}': flags {self.flags!r} are not a u32")
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
