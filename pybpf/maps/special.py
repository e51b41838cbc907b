"""Maps that programs reach through their own helpers: stack traces (bpf_get_stackid), tail
calls (bpf_tail_call), ring and perf buffers (events to user space), maps of maps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pybpf.maps.base import Map, possible_cpus
from pybpf.sys import (
    MapType,
)

PERF_MAX_STACK_DEPTH = 127


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


class ArrayOfMaps(Map):
    map_type = MapType.ARRAY_OF_MAPS
    supports_batch = False

    def __init__(self, inner: Map, max_entries: int | None = None,
                 name: str | None = None) -> None:
        super().__init__("u32", "u32", max_entries or 1, name, inner_map=inner)

    def _pack_value(self, value: Any) -> bytes:
        return value.fd.fileno().to_bytes(4, "little")
