"""The ring buffer walk on a ring written by hand (an anonymous mapping laid out like the
kernel's): BUSY records end a batch, DISCARD records are skipped, and mmap failures are
RingMmapError. No BPF program can leave a record BUSY across a test_run, so this is where
that case is checked."""

from __future__ import annotations

import mmap
import struct

import evkit as k
import pytest

from pybpf.events import RingBufReader, RingMmapError
from pybpf.events.memory import PAGE_SIZE, map_shared
from pybpf.events.waiting import Waiter

BUSY, DISCARD = 1 << 31, 1 << 30
SIZE = 4096


class FakeRing:
    """A RingBufReader over anonymous memory with the kernel's layout (the data area is
    written twice, as the double mapping would show it)."""

    def __init__(self) -> None:
        self.reader = object.__new__(RingBufReader)
        r = self.reader
        r.size, r._mask, r._fd, r._map, r._cons, r._closed = SIZE, SIZE - 1, -1, None, 0, False
        r._cons_mm = mmap.mmap(-1, PAGE_SIZE)
        r._prod_mm = mmap.mmap(-1, PAGE_SIZE + 2 * SIZE)
        r._view = memoryview(r._prod_mm)
        r._words = r._view.cast("I")
        r._waiter = Waiter()
        self.prod = 0

    def put(self, data: bytes, flags: int = 0) -> int:
        """Write a record at the producer position; returns its position."""
        pos = self.prod
        rec = struct.pack("=II", len(data) | flags, 0) + data
        rec += bytes(-len(rec) % 8)
        for copy in (0, SIZE):
            for i, b in enumerate(rec):
                off = (pos + i) % SIZE
                self.reader._prod_mm[PAGE_SIZE + off + copy] = b
        self.prod += len(rec)
        struct.pack_into("=Q", self.reader._prod_mm, 0, self.prod)
        return pos

    def set_flags(self, pos: int, length: int, flags: int) -> None:
        for copy in (0, SIZE):
            struct.pack_into("=I", self.reader._prod_mm, PAGE_SIZE + pos % SIZE + copy,
                             length | flags)


def test_busy_record_ends_the_batch_until_committed() -> None:
    ring = FakeRing()
    r = ring.reader
    ring.put(b"a" * 16)
    busy = ring.put(b"b" * 16, BUSY)
    ring.put(b"c" * 16)
    assert r.consume() == [b"a" * 16]
    assert r.consumer_pos == busy  # stopped at the BUSY record
    assert r.consume() == []
    ring.set_flags(busy, 16, 0)  # committed
    assert r.consume() == [b"b" * 16, b"c" * 16]
    assert struct.unpack_from("=Q", r._cons_mm, 0)[0] == ring.prod


def test_discard_and_busy_in_uniform_looking_batches() -> None:
    ring = FakeRing()
    r = ring.reader
    for i in range(10):
        ring.put(bytes([i]) * 24, DISCARD if i in (3, 4) else 0)
    assert r.consume_as(struct.Struct("=Q")) == [(int.from_bytes(bytes([i]) * 8, "little"),)
                                                  for i in range(10) if i not in (3, 4)]
    first = ring.put(b"x" * 24, BUSY)
    ring.put(b"y" * 24)
    assert r.consume_into(lambda v: None) == 0 and r.consumer_pos == first


def test_wrapped_records_are_contiguous() -> None:
    ring = FakeRing()
    r = ring.reader
    ring.prod = r._cons = SIZE - 8  # the next record starts 8 bytes before the end
    struct.pack_into("=Q", r._cons_mm, 0, r._cons)
    ring.put(bytes(range(40)))
    ring.put(bytes(range(40, 80)))
    assert r.consume() == [bytes(range(40)), bytes(range(40, 80))]


def test_mmap_failure_is_a_ring_mmap_error() -> None:
    rb = k.ringbuf(4096)
    try:
        # the producer page is read-only for user space: asking for write access fails
        with pytest.raises(RingMmapError, match="could not map the test page"):
            map_shared(rb.fd.fileno(), PAGE_SIZE, PAGE_SIZE, True, "the test page")
    finally:
        rb.close()
