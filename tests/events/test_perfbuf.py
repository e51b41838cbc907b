"""PerfBufReader against real BPF_MAP_TYPE_PERF_EVENT_ARRAY maps, fed by a raw tracepoint
program run with BPF_PROG_TEST_RUN on a chosen CPU (BPF_F_TEST_RUN_ON_CPU), so that
BPF_F_CURRENT_CPU selects that CPU's ring."""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator

import evkit as k
import pytest

from pybpf.events import PerfBufReader
from pybpf.events.cpus import online_cpus, parse_cpu_list

CPUS = online_cpus()


def padded(size: int) -> int:
    """The raw sample length the kernel reports for a `size`-byte output."""
    return (size + 4 + 7) // 8 * 8 - 4


@pytest.fixture
def perf() -> Iterator[tuple[k.KMap, k.KMap]]:
    pa, fails = k.perf_array(max(CPUS) + 1), k.counter()
    yield pa, fails
    pa.close()
    fails.close()


def test_samples_per_cpu_in_order_with_contents(perf) -> None:
    pa, fails = perf
    prog = k.perf_output_prog(pa, fails)
    with PerfBufReader(pa, page_count=2) as reader:
        assert reader.cpus == CPUS
        sizes = [16 + i % 89 for i in range(60)]
        for cpu in CPUS:
            for seq, size in enumerate(sizes):
                assert k.run(prog, seq, size, cpu=cpu) == 0
        got = reader.poll(1000, with_cpu=True)
        for cpu in CPUS:
            mine = [data for c, data in got if c == cpu]
            assert [len(d) for d in mine] == [padded(s) for s in sizes]
            assert [d[:s] for d, s in zip(mine, sizes, strict=True)] == \
                [k.perf_payload(seq, s, cpu) for seq, s in enumerate(sizes)]
            assert all(d[s:] == bytes(len(d) - s) for d, s in zip(mine, sizes, strict=True))
        assert reader.lost == 0 and reader.consume() == []


def test_records_that_wrap_the_ring(perf) -> None:
    """1 data page; 40-byte outputs make 56-byte records, which straddle the page end."""
    pa, fails = perf
    prog = k.perf_output_prog(pa, fails)
    cpu = CPUS[-1]
    with PerfBufReader(pa, page_count=1, cpus=[cpu]) as reader:
        seq = 0
        for _round in range(20):
            for _ in range(30):
                k.run(prog, seq, 40, cpu=cpu)
                seq += 1
            got = reader.consume()
            assert [d[:40] for d in got] == [k.perf_payload(s, 40, cpu)
                                             for s in range(seq - 30, seq)]
        assert seq * 56 > 4 * 4096 and reader.lost == 0


def test_overflow_received_plus_lost_equals_produced(perf) -> None:
    pa, fails = perf
    prog = k.perf_output_prog(pa, fails)
    cpu = CPUS[0]
    with PerfBufReader(pa, page_count=1, cpus=[cpu]) as reader:
        produced = 500  # 500 * 56 bytes >> one 4096-byte page
        for seq in range(produced):
            k.run(prog, seq, 40, cpu=cpu)
        got = reader.consume()
        failed = k.read_u64(fails)
        assert failed > 0 and len(got) + failed == produced
        # the LOST record is written with the next sample that fits
        assert k.run(prog, produced, 40, cpu=cpu) == 0
        got += reader.consume()
        assert reader.lost == failed
        assert reader.lost_per_cpu == {cpu: failed}
        assert len(got) + reader.lost == produced + 1
        seqs = [int.from_bytes(d[:8], "little") // 16 for d in got]
        assert seqs == sorted(seqs) and seqs[-1] == produced


def test_poll_timeout_iter_and_wakeup(perf) -> None:
    pa, fails = perf
    prog = k.perf_output_prog(pa, fails)
    with PerfBufReader(pa, page_count=1) as reader:
        t0 = time.monotonic()
        assert reader.poll(100) == []
        assert 0.09 < time.monotonic() - t0 < 2
        for seq in range(4):
            k.run(prog, seq, 16, cpu=CPUS[0])
        assert [d[:16] for d in reader.iter(50)] == \
            [k.perf_payload(s, 16, CPUS[0]) for s in range(4)]
        k.run(prog, 9, 16, cpu=CPUS[-1])
        assert [(c, d[:16]) for c, d in reader.iter(50, with_cpu=True)] == \
            [(CPUS[-1], k.perf_payload(9, 16, CPUS[-1]))]


def test_watermark_mode(perf) -> None:
    """With a watermark the reader is woken by bytes, not samples; consume() reads anyway."""
    pa, fails = perf
    prog = k.perf_output_prog(pa, fails)
    with PerfBufReader(pa, page_count=1, watermark=1024) as reader:
        for seq in range(3):
            k.run(prog, seq, 16, cpu=CPUS[0])
        assert [d[:16] for d in reader.consume()] == \
            [k.perf_payload(s, 16, CPUS[0]) for s in range(3)]
        for seq in range(40):  # 40 * 40 bytes crosses the 1024-byte watermark
            k.run(prog, seq, 16, cpu=CPUS[0])
        assert len(reader.poll(1000)) == 40


def test_close_removes_the_events_from_the_map(perf) -> None:
    pa, fails = perf
    prog = k.perf_output_prog(pa, fails)
    reader = PerfBufReader(pa, page_count=1)
    assert k.run(prog, 1, 16, cpu=CPUS[0]) == 0
    reader.close()
    reader.close()
    assert k.run(prog, 2, 16, cpu=CPUS[0]) == -errno.ENOENT
    with pytest.raises(ValueError, match="closed"):
        reader.consume()


def test_argument_errors(perf) -> None:
    pa, fails = perf
    with pytest.raises(ValueError, match="power of two"):
        PerfBufReader(pa, page_count=3)
    with pytest.raises(ValueError, match="outside the perf event array"):
        PerfBufReader(pa, cpus=[4096])
    rb = k.ringbuf(4096)
    with pytest.raises(TypeError, match="BPF_MAP_TYPE_PERF_EVENT_ARRAY map, but this map is a "
                                        "BPF_MAP_TYPE_RINGBUF; use RingBufReader"):
        PerfBufReader(rb)
    rb.close()


def test_parse_cpu_list() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list("0") == [0]
