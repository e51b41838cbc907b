"""RingBufReader against real BPF_MAP_TYPE_RINGBUF maps fed by raw tracepoint programs run
with BPF_PROG_TEST_RUN."""

from __future__ import annotations

import ctypes
import select
import struct
import threading
import time
from collections.abc import Iterator

import evkit as k
import pytest

from pybpf.events import RingBufReader


@pytest.fixture
def ring() -> Iterator[tuple[k.KMap, k.KMap, RingBufReader]]:
    rb, fails = k.ringbuf(4096), k.counter()
    reader = RingBufReader(rb)
    yield rb, fails, reader
    reader.close()
    rb.close()
    fails.close()


def test_records_arrive_in_order_with_contents(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)
    sizes = [1 + (i * 7) % 104 for i in range(30)]  # mixed lengths: the record-by-record path
    for seq, size in enumerate(sizes):
        assert k.run(prog, seq, size) == 0
    got = reader.poll(0)
    assert got == [k.payload(seq, size) for seq, size in enumerate(sizes)]
    assert reader.consume() == []
    assert reader.consumer_pos == reader.producer_pos


def test_uniform_batch_and_records_that_wrap(ring) -> None:
    """100-byte records take 112 bytes: over many produce/consume rounds in a 4096-byte ring
    records start near the end and continue at the start of the data area."""
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)
    seq = wrapped = 0
    for _round in range(25):
        pos = reader.consumer_pos
        expect = []
        for _ in range(20):
            assert k.run(prog, seq, 100) == 0
            expect.append(k.payload(seq, 100))
            start = pos & 4095
            wrapped += start + 8 + 100 > 4096
            pos += 112
            seq += 1
        assert reader.consume() == expect
    assert wrapped >= 5
    assert k.read_u64(fails) == 0


def test_discarded_records_are_skipped(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_reserve_prog(rb, fails)
    for seq in range(40):
        k.run(prog, seq, seq % 3 == 1)  # every third record discarded
    got = [struct.unpack("<QQ", r) for r in reader.consume()]
    assert got == [(s, ~s & (2**64 - 1)) for s in range(40) if s % 3 != 1]
    assert reader.consumer_pos == reader.producer_pos  # discarded space was released too


def test_only_discarded_records_give_an_empty_batch(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_reserve_prog(rb, fails)
    for seq in range(5):
        k.run(prog, seq, 1)
    assert reader.poll(0) == []
    assert reader.consumer_pos == reader.producer_pos


def test_overflow_received_plus_failed_equals_produced(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)
    produced = 300  # 300 * 40 bytes > 4096
    for seq in range(produced):
        k.run(prog, seq, 32)
    got = reader.consume()
    failed = k.read_u64(fails)
    assert failed > 0
    assert len(got) + failed == produced
    assert got == [k.payload(s, 32) for s in range(len(got))]  # the first ones fit, in order
    # after draining, the ring accepts records again
    assert k.run(prog, 1000, 32) == 0
    assert reader.consume() == [k.payload(1000, 32)]


def test_bpf_loop_batch_of_many_records() -> None:
    rb, fails = k.ringbuf(1 << 20), k.counter()
    with RingBufReader(rb) as reader:
        prog = k.ringbuf_loop_prog(rb, fails)
        total = 0
        for base in range(0, 200_000, 20_000):
            k.run(prog, 20_000, base)
            rows = reader.consume_as(struct.Struct("<4Q"))
            assert rows[0] == (base, base + 1000, base + 2000, base + 3000)
            assert [r[0] for r in rows] == list(range(base, base + 20_000))
            total += len(rows)
        assert total == 200_000 and k.read_u64(fails) == 0


def test_consume_as_ctypes_and_struct(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)

    class Rec(ctypes.Structure):
        _fields_ = [("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

    for seq in range(10):
        k.run(prog, seq, 24)  # records longer than the decoders: the tail is ignored
    recs = reader.consume_as(Rec)
    assert [(r.a, r.b) for r in recs] == [(s * 16, s * 16 + 1) for s in range(10)]
    for seq in range(10):
        k.run(prog, seq, 16 + seq % 2 * 8)  # mixed lengths
    assert reader.consume_as(struct.Struct("=QQ")) == [(s * 16, s * 16 + 1) for s in range(10)]
    k.run(prog, 1, 8)
    with pytest.raises(ValueError, match="shorter than the 16-byte decoder"):
        reader.consume_as(Rec)
    with pytest.raises(TypeError, match="decoder must be"):
        reader.consume_as("QQ")  # type: ignore[arg-type]


def test_consume_into_hands_out_released_memoryviews(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)
    for seq in range(8):
        k.run(prog, seq, 16)
    views: list[memoryview] = []
    seen: list[bytes] = []

    def cb(view: memoryview) -> None:
        views.append(view)
        seen.append(bytes(view))

    assert reader.consume_into(cb) == 8
    assert seen == [k.payload(s, 16) for s in range(8)]
    with pytest.raises(ValueError):
        bytes(views[0])  # released after the callback
    reader.close()  # no exported buffers left: closing works


def test_consume_into_exception_consumes_up_to_that_record(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)
    for seq in range(6):
        k.run(prog, seq, 8 + seq % 2 * 8)

    def cb(view: memoryview) -> None:
        if bytes(view) == k.payload(2, 8):
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        reader.consume_into(cb)
    assert reader.consume() == [k.payload(s, 8 + s % 2 * 8) for s in range(3, 6)]


def test_poll_waits_for_a_record_from_another_thread(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)
    timer = threading.Timer(0.2, lambda: k.run(prog, 7, 16))
    timer.start()
    t0 = time.monotonic()
    got = reader.poll(5000)
    timer.join()
    assert got == [k.payload(7, 16)]
    assert 0.15 < time.monotonic() - t0 < 4


def test_poll_timeout_and_fileno(ring) -> None:
    rb, fails, reader = ring
    t0 = time.monotonic()
    assert reader.poll(100) == []
    assert 0.09 < time.monotonic() - t0 < 2
    ep = select.poll()
    ep.register(reader.fileno(), select.POLLIN)
    assert ep.poll(0) == []
    k.run(k.ringbuf_output_prog(rb, fails), 1, 8)
    assert ep.poll(1000)
    assert reader.consume() == [k.payload(1, 8)]


def test_iterators(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)
    for seq in range(5):
        k.run(prog, seq, 8)
    assert list(reader.iter(50)) == [k.payload(s, 8) for s in range(5)]
    for seq in range(3):
        k.run(prog, seq, 8)
    it = iter(reader)
    assert [next(it) for _ in range(3)] == [k.payload(s, 8) for s in range(3)]


def test_poll_into_waits(ring) -> None:
    rb, fails, reader = ring
    prog = k.ringbuf_output_prog(rb, fails)
    assert reader.poll_into(lambda v: None, 20) == 0
    k.run(prog, 3, 8)
    got: list[bytes] = []
    assert reader.poll_into(lambda v: got.append(bytes(v)), 1000) == 1
    assert got == [k.payload(3, 8)]
    k.run(prog, 4, 16)
    assert reader.poll_as(struct.Struct("=QQ"), 1000) == [(64, 65)]


def test_close_is_idempotent_and_blocks_use(ring) -> None:
    rb, fails, reader = ring
    with RingBufReader(rb) as second:
        assert second.size == 4096
    assert second.closed
    second.close()
    with pytest.raises(ValueError, match="closed"):
        second.consume()


def test_wrong_map_type_is_a_type_error() -> None:
    arr = k.counter()
    with pytest.raises(TypeError, match="BPF_MAP_TYPE_RINGBUF map, but this map is a "
                                        "BPF_MAP_TYPE_ARRAY"):
        RingBufReader(arr)
    arr.close()
    with pytest.raises(TypeError, match="needs a BPF map object"):
        RingBufReader("not a map")
    with open("/dev/null") as f, pytest.raises(TypeError, match="is not one"):
        RingBufReader(f.fileno())
