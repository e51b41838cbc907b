"""Reading a BPF perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY): one perf ring per CPU.

For each CPU the reader opens a software perf event (PERF_TYPE_SOFTWARE /
PERF_COUNT_SW_BPF_OUTPUT, sample_type PERF_SAMPLE_RAW), maps its ring (one metadata page,
struct perf_event_mmap_page, then `page_count` data pages), stores the event fd in the map at
index cpu so that `bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, ...)` lands in it, and
enables the event. Records between `data_tail` and `data_head` are read (a record may wrap
around the end of the data pages; it is then copied in two parts) and `data_tail` is written
once per batch.

Record payloads. A PERF_RECORD_SAMPLE carries `u32 size` and `size` bytes of raw data. The
kernel pads the raw data so that the u32 and the data together are a multiple of 8 bytes, so
`size` is the program's length rounded up to 8, minus 4: a 32-byte output arrives as 36 bytes
(the 4 trailing bytes are zero). The reader returns the bytes as the kernel gives them; decode
the length you know, or use the ring buffer, which keeps exact lengths.

Lost records. When a ring is full the kernel drops the sample and counts it; the count is
written as a PERF_RECORD_LOST record the next time a sample fits. `.lost` is the total seen so
far, `.lost_per_cpu` the counts by CPU. A drop therefore shows in `.lost` only after the ring
has been drained and one more sample was written on that CPU.

Memory ordering is as in ringbuf.py: `data_head` is read before the records, the records
before `data_tail` is written; x86-64 keeps this load order, arm64 in practice.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from collections.abc import Iterator, Sequence
from typing import Any

from pybpf.events.cpus import online_cpus
from pybpf.events.mapcheck import checked_map
from pybpf.events.memory import PAGE_SIZE, is_power_of_two, map_shared
from pybpf.events.waiting import Waiter, iterate, poll_batches
from pybpf.sys import FD, BPFError, MapType, bpf, ioctl, perf_event_open
from pybpf.sys import constants as C
from pybpf.sys.attrs import MapElemAttr, PerfEventAttr, PerfEventMmapPage
from pybpf.sys.closes import Closes

_U64 = struct.Struct("=Q")
_U32 = struct.Struct("=I")
_HEADER = struct.Struct("=IHH")  # struct perf_event_header: type, misc, size
_LOST = struct.Struct("=QQ")  # after the header: id, lost
_HEAD_OFF = PerfEventMmapPage.data_head.offset
_TAIL_OFF = PerfEventMmapPage.data_tail.offset
_DOFF_OFF = PerfEventMmapPage.data_offset.offset
_DSIZE_OFF = PerfEventMmapPage.data_size.offset


class _CpuRing:
    """One CPU's perf event and its mapped ring."""

    __slots__ = ("cpu", "fd", "mm", "data_off", "data_size", "mask", "lost")

    def __init__(self, cpu: int, fd: FD, mm: mmap.mmap, page_count: int) -> None:
        self.cpu = cpu
        self.fd = fd
        self.mm = mm
        self.data_off = _U64.unpack_from(mm, _DOFF_OFF)[0] or PAGE_SIZE
        self.data_size = _U64.unpack_from(mm, _DSIZE_OFF)[0] or page_count * PAGE_SIZE
        self.mask = self.data_size - 1
        self.lost = 0

    def read(self, out: list[Any], with_cpu: bool) -> None:
        """Append the samples now in the ring to `out` and free their space."""
        mm, base, size, mask = self.mm, self.data_off, self.data_size, self.mask
        head = _U64.unpack_from(mm, _HEAD_OFF)[0]
        tail = _U64.unpack_from(mm, _TAIL_OFF)[0]
        if head == tail:
            return
        cpu = self.cpu
        while tail < head:
            off = tail & mask
            # records are 8-byte aligned, so the 8-byte header itself never wraps
            rtype, _misc, rsize = _HEADER.unpack_from(mm, base + off)
            if rsize < 8:  # a corrupt header would loop forever; resynchronise at the head
                tail = head
                break
            if off + rsize <= size:
                buf, at = mm, base + off
            else:  # wraps the end of the data pages: copy the two parts together
                first = size - off
                buf, at = mm[base + off:base + size] + mm[base:base + rsize - first], 0
            if rtype == C.PERF_RECORD_SAMPLE:
                n = _U32.unpack_from(buf, at + 8)[0]
                data = buf[at + 12:at + 12 + n]
                out.append((cpu, data) if with_cpu else data)
            elif rtype == C.PERF_RECORD_LOST:
                self.lost += _LOST.unpack_from(buf, at + 8)[1]
            tail += rsize
        _U64.pack_into(mm, _TAIL_OFF, tail)

    def close(self) -> None:
        self.mm.close()
        self.fd.close()


class PerfBufReader(Closes):
    """Reads what BPF programs write with bpf_perf_event_output into a perf event array.

    `perf_event_array_map`: any object with `.fd` (e.g. `pybpf.maps.PerfEventArray`) or an fd
    number. `page_count`: data pages per CPU, a power of two. `cpus`: the CPUs to read
    (default: the online CPUs within the map's size). `wakeup_events`: wake the reader every
    that many samples; `watermark`: wake instead when that many bytes are waiting (poll may
    then wait while fewer bytes sit in the ring; `consume()` reads them anyway).

    Reading: `poll(timeout_ms=-1, with_cpu=False)` (a list of bytes, or of (cpu, bytes)),
    `consume(with_cpu=False)` without waiting, `for rec in reader:` / `reader.iter(timeout_ms,
    with_cpu)`. Samples are returned with the kernel's padding (see the module notes).
    `.lost` / `.lost_per_cpu` count dropped samples. `close()` removes the fds from the map,
    disables and closes the events and unmaps the rings. The reader does not own the map.
    """

    def __init__(self, perf_event_array_map: object, page_count: int = 8,
                 cpus: Sequence[int] | None = None, wakeup_events: int = 1,
                 watermark: int | None = None) -> None:
        fd, info = checked_map(perf_event_array_map, MapType.PERF_EVENT_ARRAY, "PerfBufReader",
                               "use RingBufReader for ring buffer maps")
        if not is_power_of_two(page_count):
            raise ValueError(f"page_count must be a power of two (1, 2, 4, 8, ...), not "
                             f"{page_count}")
        self._map = perf_event_array_map
        self._map_fd = fd
        self.page_count = page_count
        if cpus is None:
            cpus = [c for c in online_cpus() if c < info.max_entries]
        else:
            bad = [c for c in cpus if not 0 <= c < info.max_entries]
            if bad:
                raise ValueError(f"CPU(s) {bad} are outside the perf event array, which has "
                                 f"{info.max_entries} entries")
        self._rings: list[_CpuRing] = []
        self._waiter = Waiter()
        self._closed = False
        try:
            for cpu in cpus:
                self._open_cpu(cpu, wakeup_events, watermark)
        except BaseException:
            self.close()
            raise

    def _open_cpu(self, cpu: int, wakeup_events: int, watermark: int | None) -> None:
        attr = PerfEventAttr(type=C.PERF_TYPE_SOFTWARE, config=C.PERF_COUNT_SW_BPF_OUTPUT,
                             sample_period=1, sample_type=C.PERF_SAMPLE_RAW,
                             wakeup_events=wakeup_events)
        if watermark is not None:
            attr.flags |= C.PERF_ATTR_FLAG_WATERMARK
            attr.wakeup_events = watermark
        fd = FD(perf_event_open(attr, pid=-1, cpu=cpu,
                                what=f"perf_event_open(BPF output event on CPU {cpu})"))
        try:
            mm = map_shared(fd.fileno(), (1 + self.page_count) * PAGE_SIZE, 0, True,
                            f"the perf ring of CPU {cpu} ({self.page_count} data pages)")
        except BaseException:
            fd.close()
            raise
        ring = _CpuRing(cpu, fd, mm, self.page_count)
        self._rings.append(ring)
        self._update_map(cpu, fd.fileno())
        ioctl(fd.fileno(), C.PERF_EVENT_IOC_ENABLE, 0, what=f"enabling the perf event of CPU {cpu}")
        self._waiter.add(fd.fileno())

    def _update_map(self, cpu: int, value: int | None) -> None:
        key = ctypes.c_uint32(cpu)
        attr = MapElemAttr(map_fd=self._map_fd, key=ctypes.addressof(key))
        if value is None:  # the kernel wants every field after `key` zero here
            bpf(C.BPF_MAP_DELETE_ELEM, attr, what=f"removing CPU {cpu} from the perf event array")
            return
        val = ctypes.c_uint32(value)
        attr.value, attr.flags = ctypes.addressof(val), C.BPF_ANY
        bpf(C.BPF_MAP_UPDATE_ELEM, attr,
            what=f"storing the perf event of CPU {cpu} in the perf event array")

    # -- reading --------------------------------------------------------------------------

    @property
    def cpus(self) -> list[int]:
        return [r.cpu for r in self._rings]

    @property
    def lost(self) -> int:
        """Samples the kernel dropped because a ring was full (as reported so far)."""
        return sum(r.lost for r in self._rings)

    @property
    def lost_per_cpu(self) -> dict[int, int]:
        return {r.cpu: r.lost for r in self._rings}

    def consume(self, with_cpu: bool = False) -> list[Any]:
        """The samples now in every CPU's ring, without waiting; (cpu, bytes) with
        `with_cpu`. Within one CPU they are in the order written; CPUs follow one another."""
        if self._closed:
            raise ValueError("the perf buffer reader is closed")
        out: list[Any] = []
        for ring in self._rings:
            ring.read(out, with_cpu)
        return out

    def poll(self, timeout_ms: float = -1, with_cpu: bool = False) -> list[Any]:
        """All samples available, waiting up to `timeout_ms` ms for the first (-1: forever,
        0: no wait); `[]` when the timeout passed."""
        return poll_batches(lambda: self.consume(with_cpu), self._waiter, timeout_ms)

    def iter(self, timeout_ms: float = -1, with_cpu: bool = False) -> Iterator[Any]:
        """Samples one by one; ends after `timeout_ms` with no sample (never for -1) or when
        the reader is closed."""
        return iterate(lambda t: self.poll(t, with_cpu), lambda: self._closed, timeout_ms)

    def __iter__(self) -> Iterator[Any]:
        return self.iter(-1)

    # -- lifetime -------------------------------------------------------------------------

    def fileno(self) -> int:
        """The epoll fd: readable when a CPU's ring wakes the reader."""
        return self._waiter.fileno()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Remove our events from the map, disable and close them, unmap the rings."""
        if self._closed:
            return
        self._closed = True
        for ring in self._rings:
            try:
                self._update_map(ring.cpu, None)
            except BPFError:  # the map may be closed already; the events go anyway
                pass
            try:
                ioctl(ring.fd.fileno(), C.PERF_EVENT_IOC_DISABLE, 0)
            except BPFError:
                pass
            ring.close()
        self._rings = []
        self._waiter.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"cpus={self.cpus} lost={self.lost}"
        return f"<PerfBufReader map_fd={self._map_fd} pages={self.page_count} {state}>"
