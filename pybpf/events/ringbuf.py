"""Reading a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) from user space through mmap.

Layout (Documentation/bpf/ringbuf.rst, kernel/bpf/ringbuf.c):

- offset 0 of the map fd, one page, read-write: the consumer page; `consumer_pos` (u64) is its
  first word. Only user space writes it.
- offset PAGE_SIZE, read-only: the producer page (`producer_pos`, u64, first word), followed by
  the data area of `max_entries` bytes mapped twice in a row, so a record that wraps around the
  end of the ring is still contiguous in our mapping.
- A record is an 8-byte header (u32 len with BUSY bit 31 and DISCARD bit 30, u32 page offset)
  and `len` bytes of data; the next record starts at the 8-byte aligned end.

A batch reads `producer_pos` once, walks the records from `consumer_pos` up to it, stops at the
first record still BUSY (reserved, not yet committed), skips DISCARD records, and publishes the
new `consumer_pos` once at the end of the batch, which frees the space for the producers.

Memory ordering. The kernel commits a record by clearing BUSY with a release store after the
data is written, and bumps `producer_pos` (release) when reserving. Python cannot issue
barriers, so this reader relies on load order: it reads `producer_pos` first, then the record
headers, and only then the data of records whose header says committed (records between the
consumer and producer positions that are still BUSY end the batch and are read next time).
x86-64 (TSO) never reorders loads with other loads, so this order is what the CPU does. On
arm64 loads may be reordered; between reading a header and reading its data the interpreter
runs hundreds of instructions and dependent loads, which in practice orders them, but it is
not an architectural guarantee like libbpf's smp_load_acquire. The consumer position is
written after all data of the batch has been read (a store after loads, ordered on both).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable, Iterator
from typing import Any

from pybpf.events.mapcheck import checked_map
from pybpf.events.memory import PAGE_SIZE, map_shared
from pybpf.events.waiting import Waiter, iterate, poll_batches
from pybpf.sys import MapType
from pybpf.sys.closes import Closes
from pybpf.sys.constants import BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT, BPF_RINGBUF_HDR_SZ

_POS = struct.Struct("=Q")
_LEN = struct.Struct("=I")
_HDR = BPF_RINGBUF_HDR_SZ
_LEN_MASK = 0xFFFFFFFF & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)
_FLAGS = BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT

Decoder = struct.Struct | type[ctypes.Structure]


def _round8(n: int) -> int:
    return (n + 7) & ~7


class _Batch:
    """The committed records between two consumer positions, found by one scan.

    Uniform batches (every record has the same length, none discarded) keep only
    (first data offset, count, stride, length); mixed batches keep a list of (offset, length).
    Offsets are into the producer mapping."""

    __slots__ = ("start", "count", "stride", "length", "spans", "ends", "end_pos")

    def __init__(self, start: int, count: int, stride: int, length: int,
                 spans: list[tuple[int, int]] | None, ends: list[int] | None,
                 end_pos: int) -> None:
        self.start = start
        self.count = count
        self.stride = stride
        self.length = length
        self.spans = spans
        self.ends = ends  # ring position after each record of `spans`
        self.end_pos = end_pos

    def offsets(self) -> list[tuple[int, int]]:
        if self.spans is not None:
            return self.spans
        ln = self.length
        return [(off, ln) for off in range(self.start, self.start + self.count * self.stride,
                                           self.stride)]


class RingBufReader(Closes):
    """Reads the records of one BPF ring buffer map.

    `ringbuf_map` is any object with `.fd` (e.g. `pybpf.maps.RingBuf`) or an fd number; the
    map type and size are asked of the kernel. The reader does not own the map.

    Reading:
      - `poll(timeout_ms=-1)`: all records available, waiting up to `timeout_ms` (-1 forever,
        0 not at all) for the first; `[]` on timeout.
      - `consume()`: the same without waiting.
      - `for rec in reader:` blocks forever; `reader.iter(timeout_ms)` stops after an idle
        timeout.
      - `poll_into(callback, timeout_ms)` / `consume_into(callback)`: zero-copy, callback gets
        a memoryview into the ring, valid only during the call (it is released afterwards).
      - `poll_as(decoder, timeout_ms)` / `consume_as(decoder)`: decode every record with a
        `struct.Struct` (-> tuples) or a ctypes Structure class (-> instances); a batch whose
        records all have one length is decoded in one C-level pass (`Struct.iter_unpack`).
    Records are the bytes the BPF program submitted (no padding). `fileno()` is the epoll fd
    (readable when records arrive), for use in a caller's own event loop.
    """

    def __init__(self, ringbuf_map: object) -> None:
        fd, info = checked_map(ringbuf_map, MapType.RINGBUF, "RingBufReader",
                               "use PerfBufReader for perf event arrays")
        self._map = ringbuf_map  # keep the map (and its fd) alive while mapped
        self._fd = fd
        self.size: int = info.max_entries
        self._mask = self.size - 1
        self._cons_mm = map_shared(fd, PAGE_SIZE, 0, True, "the ring buffer consumer page")
        try:
            self._prod_mm = map_shared(fd, PAGE_SIZE + 2 * self.size, PAGE_SIZE, False,
                                       f"the ring buffer producer page and {self.size}-byte "
                                       "data area")
        except BaseException:
            self._cons_mm.close()
            raise
        self._view = memoryview(self._prod_mm)
        self._words = self._view.cast("I")
        self._cons = _POS.unpack_from(self._cons_mm, 0)[0]
        self._waiter = Waiter()
        self._waiter.add(fd)
        self._closed = False

    # -- positions ------------------------------------------------------------------------

    @property
    def consumer_pos(self) -> int:
        return self._cons

    @property
    def producer_pos(self) -> int:
        return _POS.unpack_from(self._prod_mm, 0)[0]

    @property
    def available(self) -> int:
        """Bytes (headers included) between the consumer and producer positions."""
        return self.producer_pos - self._cons

    def _publish(self, pos: int) -> None:
        _POS.pack_into(self._cons_mm, 0, pos)
        self._cons = pos

    # -- scanning -------------------------------------------------------------------------

    def _scan(self) -> _Batch | None:
        """Find the committed records after the consumer position (None when there are none
        and nothing to skip)."""
        if self._closed:
            raise ValueError("the ring buffer reader is closed")
        prod = _POS.unpack_from(self._prod_mm, 0)[0]
        cons = self._cons
        if prod == cons:
            return None
        base = PAGE_SIZE + (cons & self._mask)
        first = _LEN.unpack_from(self._prod_mm, base)[0]
        if not first & _FLAGS:
            stride = _round8(first + _HDR)
            nbytes = prod - cons
            if nbytes % stride == 0:
                count = nbytes // stride
                heads = self._words[base // 4:(base + nbytes) // 4:stride // 4]
                if heads.tobytes() == _LEN.pack(first) * count:
                    heads.release()
                    return _Batch(base + _HDR, count, stride, first, None, None, prod)
                heads.release()
        return self._walk(cons, prod)

    def _walk(self, cons: int, prod: int) -> _Batch | None:
        """Record-by-record scan: stop at a BUSY record, skip DISCARD records."""
        mm, mask, unpack = self._prod_mm, self._mask, _LEN.unpack_from
        spans: list[tuple[int, int]] = []
        ends: list[int] = []
        pos = cons
        while pos < prod:
            off = PAGE_SIZE + (pos & mask)
            head = unpack(mm, off)[0]
            if head & BPF_RINGBUF_BUSY_BIT:
                break
            length = head & _LEN_MASK
            nxt = pos + _round8(length + _HDR)
            if nxt > prod:  # cannot happen with a sane kernel; do not read past the producer
                break
            if not head & BPF_RINGBUF_DISCARD_BIT:
                spans.append((off + _HDR, length))
                ends.append(nxt)
            pos = nxt
        if pos == cons:
            return None
        return _Batch(0, len(spans), 0, 0, spans, ends, pos)

    # -- reading as bytes -----------------------------------------------------------------

    def consume(self) -> list[bytes]:
        """Every committed record now in the ring, as bytes, without waiting."""
        batch = self._scan()
        if batch is None:
            return []
        mm = self._prod_mm
        if batch.spans is None:
            ln, st = batch.length, batch.stride
            out = [mm[off:off + ln] for off in range(batch.start, batch.start + batch.count * st,
                                                     st)]
        else:
            out = [mm[off:off + ln] for off, ln in batch.spans]
        self._publish(batch.end_pos)
        return out

    def poll(self, timeout_ms: float = -1) -> list[bytes]:
        """All records available, waiting up to `timeout_ms` ms for the first (-1: forever,
        0: no wait). An empty list means the timeout passed."""
        return poll_batches(self.consume, self._waiter, timeout_ms)

    def iter(self, timeout_ms: float = -1) -> Iterator[bytes]:
        """Records one by one; ends when `timeout_ms` passes with no record (never for -1)
        or when the reader is closed."""
        return iterate(self.poll, lambda: self._closed, timeout_ms)

    def __iter__(self) -> Iterator[bytes]:
        return self.iter(-1)

    # -- zero-copy and decoded forms ------------------------------------------------------

    def consume_into(self, callback: Callable[[memoryview], Any]) -> int:
        """Call `callback(view)` for each committed record, where `view` is a read-only
        memoryview of the record inside the ring, released when the callback returns (copy
        it with bytes(view) to keep it). Returns the number of records. The consumer position
        is published once, after the batch; if the callback raises, the records up to and
        including that one count as consumed."""
        batch = self._scan()
        if batch is None:
            return 0
        view = self._view
        done = 0
        try:
            for off, ln in batch.offsets():
                rec = view[off:off + ln]
                try:
                    callback(rec)
                finally:
                    rec.release()
                    done += 1
        except BaseException:
            self._publish(self._pos_after(batch, done))
            raise
        self._publish(batch.end_pos)
        return done

    def poll_into(self, callback: Callable[[memoryview], Any], timeout_ms: float = -1) -> int:
        """`consume_into`, waiting up to `timeout_ms` for the first record."""
        counts: list[int] = []

        def once() -> list[int]:
            n = self.consume_into(callback)
            counts.append(n)
            return [n] if n else []

        poll_batches(once, self._waiter, timeout_ms)
        return sum(counts)

    def _pos_after(self, batch: _Batch, done: int) -> int:
        """The ring position just after the `done`-th record of `batch`."""
        if done >= batch.count:
            return batch.end_pos
        if batch.ends is None:
            return self._cons + done * batch.stride
        return batch.ends[done - 1] if done else self._cons

    def consume_as(self, decoder: Decoder) -> list[Any]:
        """Every committed record decoded with `decoder`: a `struct.Struct` gives tuples, a
        ctypes Structure class gives (copied) instances. A record may be longer than the
        decoder (the tail is ignored); a shorter one raises ValueError."""
        batch = self._scan()
        if batch is None:
            return []
        if isinstance(decoder, struct.Struct):
            out = self._unpack(batch, decoder)
        elif isinstance(decoder, type) and issubclass(decoder, ctypes.Structure | ctypes.Union):
            out = self._from_ctypes(batch, decoder)
        else:
            raise TypeError("decoder must be a struct.Struct or a ctypes Structure class, not "
                            f"{type(decoder).__name__}")
        self._publish(batch.end_pos)
        return out

    def poll_as(self, decoder: Decoder, timeout_ms: float = -1) -> list[Any]:
        """`consume_as`, waiting up to `timeout_ms` for the first record."""
        return poll_batches(lambda: self.consume_as(decoder), self._waiter, timeout_ms)

    def _unpack(self, batch: _Batch, decoder: struct.Struct) -> list[tuple]:
        size = decoder.size
        if batch.spans is None:
            self._check_len(batch.length, size)
            whole = _strided_struct(decoder, batch.stride)
            if whole is not None:
                start = batch.start - _HDR
                region = self._view[start:start + batch.count * batch.stride]
                try:
                    return list(whole.iter_unpack(region))
                finally:
                    region.release()
        unpack, mm = decoder.unpack_from, self._prod_mm
        spans = batch.offsets()
        for _off, ln in spans:
            self._check_len(ln, size)
        return [unpack(mm, off) for off, _ln in spans]

    def _from_ctypes(self, batch: _Batch, ctype: type[ctypes.Structure]) -> list[Any]:
        size = ctypes.sizeof(ctype)
        make, mm = ctype.from_buffer_copy, self._prod_mm
        spans = batch.offsets()
        for _off, ln in spans:
            self._check_len(ln, size)
        return [make(mm, off) for off, _ln in spans]

    @staticmethod
    def _check_len(length: int, size: int) -> None:
        if length < size:
            raise ValueError(f"a ring buffer record of {length} bytes is shorter than the "
                             f"{size}-byte decoder")

    # -- lifetime -------------------------------------------------------------------------

    def fileno(self) -> int:
        """The epoll fd: readable when the ring has data."""
        return self._waiter.fileno()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Unmap the ring and close the epoll fd (the map itself is not closed)."""
        if self._closed:
            return
        self._closed = True
        self._waiter.close()
        self._words.release()
        self._view.release()
        self._prod_mm.close()
        self._cons_mm.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"consumer_pos={self._cons}"
        return f"<RingBufReader fd={self._fd} size={self.size} {state}>"


_STRIDED: dict[tuple[str, int], struct.Struct | None] = {}


def _strided_struct(decoder: struct.Struct, stride: int) -> struct.Struct | None:
    """A Struct covering one whole ring slot (8-byte header, `decoder`, padding up to
    `stride`), so `iter_unpack` decodes a uniform batch in one pass; None if not expressible."""
    key = (decoder.format, stride)
    if key not in _STRIDED:
        fmt = decoder.format
        order, body = (fmt[0], fmt[1:]) if fmt[:1] in ("@", "=", "<", ">", "!") else ("@", fmt)
        pad = stride - _HDR - decoder.size
        whole = struct.Struct(f"{order}{_HDR}x{body}{pad}x") if pad >= 0 else None
        _STRIDED[key] = whole if whole is not None and whole.size == stride else None
    return _STRIDED[key]
