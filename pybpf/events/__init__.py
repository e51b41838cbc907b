"""Getting per-event records out of the kernel: the BPF ring buffer reader and the perf buffer
reader, both mmap-based, batched, and counting what was lost.

    with RingBufReader(ringbuf_map) as reader:
        for record in reader.poll(timeout_ms=100): ...

    with PerfBufReader(perf_event_array_map, page_count=8) as reader:
        for cpu, sample in reader.poll(100, with_cpu=True): ...
        print(reader.lost)
"""

from pybpf.events.errors import RingMmapError
from pybpf.events.perfbuf import PerfBufReader
from pybpf.events.ringbuf import RingBufReader

__all__ = ["PerfBufReader", "RingBufReader", "RingMmapError"]
