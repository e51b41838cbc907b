"""Ring buffer ingest: 32-byte records decoded in Python per second, against a plain-Python
baseline decoding the same bytes already in memory.

A raw tracepoint program, run with BPF_PROG_TEST_RUN, calls bpf_ringbuf_output in a bpf_loop
(`--chunk` records per run); failed outputs (ring full) are counted in an array map. Modes:

  same-thread  produce a chunk, then drain and decode it (no drops possible by construction
               unless the chunk is larger than the ring)
  threaded     a producer thread runs the program as fast as it can while the reader thread
               polls and decodes; drops are counted, not hidden

Decoding means each record becomes a Python tuple of four u64 (RingBufReader.consume_as with
a struct.Struct), or bytes (consume), or a memoryview callback (consume_into).

Baseline: `struct.Struct("<8x4Q").iter_unpack` over a bytes object of the same size and
layout (8-byte header + 32-byte record), already in memory: the best plain Python does
without any ring at all.

Run as root:  python3 bench/ringbuf_bench.py [--events 5000000] [--chunk 200000]
"""

from __future__ import annotations

import argparse
import struct
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "events"))  # the hand-encoded programs of the tests

import evkit as k  # noqa: E402

from pybpf.events import RingBufReader  # noqa: E402

RECORD = struct.Struct("<4Q")
SLOT = 8 + RECORD.size


def same_thread(reader: RingBufReader, prog: k.FD, events: int, chunk: int, how: str,
                ) -> tuple[int, float, float]:
    """-> (decoded, total seconds, seconds spent draining/decoding)."""
    decoded, drain = 0, 0.0
    sink: list[int] = []
    t0 = time.perf_counter()
    for base in range(0, events, chunk):
        n = min(chunk, events - base)
        k.run(prog, n, base)
        t1 = time.perf_counter()
        if how == "tuples":
            rows = reader.consume_as(RECORD)
            decoded += len(rows)
            assert rows[0][0] == base and rows[-1][0] == base + n - 1
        elif how == "bytes":
            decoded += len(reader.consume())
        else:
            decoded += reader.consume_into(lambda v: sink.append(v[0]))
            sink.clear()
        drain += time.perf_counter() - t1
    return decoded, time.perf_counter() - t0, drain


def threaded(reader: RingBufReader, prog: k.FD, events: int, chunk: int,
             ) -> tuple[int, float]:
    """Producer thread vs reader thread. -> (decoded, seconds)."""
    done = threading.Event()

    def produce() -> None:
        for base in range(0, events, chunk):
            k.run(prog, min(chunk, events - base), base)
        done.set()

    decoded = 0
    last = -1
    t0 = time.perf_counter()
    producer = threading.Thread(target=produce)
    producer.start()
    while True:
        finished = done.is_set()
        rows = reader.poll_as(RECORD, 10)
        if rows:
            decoded += len(rows)
            assert rows[0][0] > last  # in order (gaps are drops)
            last = rows[-1][0]
        elif finished:
            break
    producer.join()
    return decoded, time.perf_counter() - t0


def baseline(events: int) -> float:
    """Seconds for plain Python to decode `events` header+record slots already in memory."""
    buf = b"".join(struct.pack("<II", RECORD.size, 0) + RECORD.pack(i, i, i, i)
                   for i in range(min(events, 1_000_000)))
    whole = struct.Struct("<8x4Q")
    reps = max(1, events // 1_000_000)
    t0 = time.perf_counter()
    n = 0
    for _ in range(reps):
        n += len(list(whole.iter_unpack(buf)))
    return (time.perf_counter() - t0) * events / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--chunk", type=int, default=200_000, help="records per test_run")
    ap.add_argument("--ring", type=int, default=16 << 20, help="ring size in bytes")
    args = ap.parse_args()

    rb, fails = k.ringbuf(args.ring), k.counter()
    prog = k.ringbuf_loop_prog(rb, fails, RECORD.size)
    reader = RingBufReader(rb)
    events = args.events
    print(f"ring buffer bench: {events:,} records of {RECORD.size} bytes, ring {args.ring:,} "
          f"bytes, {args.chunk:,} records per test_run")

    rows = []
    for how in ("tuples", "bytes", "memoryview"):
        before = k.read_u64(fails)
        n, total, drain = same_thread(reader, prog, events, args.chunk, how)
        dropped = k.read_u64(fails) - before
        assert n + dropped == events, (n, dropped, events)
        rows.append((f"same thread, {how}", n, dropped, n / drain, n / total))

    before = k.read_u64(fails)
    n, total = threaded(reader, prog, events, args.chunk)
    dropped = k.read_u64(fails) - before
    assert n + dropped == events, (n, dropped, events)
    rows.append(("producer thread + reader thread, tuples", n, dropped, n / total, n / total))

    base = events / baseline(events)
    print(f"\n{'mode':42} {'decoded':>10} {'dropped':>9} {'decode ev/s':>13} "
          f"{'end-to-end ev/s':>16} {'vs baseline':>11}")
    for name, n, dropped, rate, e2e in rows:
        print(f"{name:42} {n:>10,} {dropped:>9,} {rate:>13,.0f} {e2e:>16,.0f} "
              f"{rate / base:>10.2f}x")
    print(f"{'baseline: iter_unpack of bytes in memory':42} {events:>10,} {0:>9} {base:>13,.0f}")
    print("\ndecode ev/s: records decoded per second of time spent reading the ring "
          "(threaded: wall time);\nend-to-end: including the kernel producing them. "
          "vs baseline = decode ev/s / plain-Python iter_unpack ev/s.")
    print(f"reproduce: sudo python3 bench/ringbuf_bench.py --events {events} "
          f"--chunk {args.chunk} --ring {args.ring}")
    reader.close()
    rb.close()
    fails.close()


if __name__ == "__main__":
    main()
