"""The readers behind pybpf.maps.RingBuf.poll / PerfEventArray.open_reader."""

from __future__ import annotations

import evkit as k
import pytest

maps = pytest.importorskip("pybpf.maps", reason="pybpf.maps is not available yet")


def test_ringbuf_map_poll_and_iter() -> None:
    rb, fails = maps.RingBuf(4096), k.counter()
    try:
        prog = k.ringbuf_output_prog(rb, fails)
        for seq in range(3):
            k.run(prog, seq, 24)
        assert rb.poll(0) == [k.payload(s, 24) for s in range(3)]
        k.run(prog, 9, 8)
        assert next(iter(rb)) == k.payload(9, 8)
    finally:
        rb.close()
        fails.close()


def test_perf_event_array_open_reader() -> None:
    pa, fails = maps.PerfEventArray(), k.counter()
    try:
        prog = k.perf_output_prog(pa, fails)
        reader = pa.open_reader(page_count=1)
        k.run(prog, 5, 16, cpu=reader.cpus[0])
        assert [d[:16] for d in reader.poll(1000)] == [k.perf_payload(5, 16, reader.cpus[0])]
        assert pa.lost == 0
    finally:
        pa.close()
        fails.close()
