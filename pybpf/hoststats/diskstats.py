"""iostat -x from /proc/diskstats: per whole disk, reads and writes per second, kB/s, the
average wait of a request (await: queue plus service, in ms), the average queue size and the
share of time the disk was busy (%util), between two readings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pybpf.hoststats._read import rate, text

SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own size


@dataclass(frozen=True)
class Disk:
    name: str
    reads: int
    read_sectors: int
    read_ms: int
    writes: int
    write_sectors: int
    write_ms: int
    in_flight: int
    io_ms: int  # time with at least one request in flight
    weighted_ms: int  # request time summed over requests: the queue's area


def parse(diskstats: str) -> dict[str, Disk]:
    out = {}
    for line in diskstats.splitlines():
        f = line.split()
        if len(f) < 14:
            continue
        try:
            v = [int(x) for x in f[3:14]]
        except ValueError:
            continue
        out[f[2]] = Disk(f[2], v[0], v[2], v[3], v[4], v[6], v[7], v[8], v[9], v[10])
    return out


def whole_disks(sys_block: str = "/sys/block") -> set[str] | None:
    """Names of whole disks (partitions are not in /sys/block; '/' in a name is '!' there), or
    None when /sys/block cannot be read (then every device is kept)."""
    try:
        return {n.replace("!", "/") for n in os.listdir(sys_block)}
    except OSError:
        return None


def read() -> dict[str, Disk]:
    return parse(text("/proc/diskstats"))


def delta(before: dict[str, Disk], after: dict[str, Disk], seconds: float,
          disks: set[str] | None = None) -> list[dict[str, Any]]:
    """One row per whole disk that did I/O between the readings, busiest first."""
    out = []
    ms = seconds * 1000.0
    for name, a in after.items():
        b = before.get(name)
        if b is None or (disks is not None and name not in disks):
            continue
        reads, writes = a.reads - b.reads, a.writes - b.writes
        if reads <= 0 and writes <= 0 and a.io_ms == b.io_ms:
            continue
        out.append({
            "disk": name,
            "r_per_s": round(rate(a.reads, b.reads, seconds), 1),
            "w_per_s": round(rate(a.writes, b.writes, seconds), 1),
            "rkb_per_s": round(rate(a.read_sectors, b.read_sectors, seconds) * SECTOR / 1024, 1),
            "wkb_per_s": round(rate(a.write_sectors, b.write_sectors, seconds) * SECTOR / 1024,
                               1),
            "r_await_ms": round((a.read_ms - b.read_ms) / reads, 2) if reads > 0 else 0.0,
            "w_await_ms": round((a.write_ms - b.write_ms) / writes, 2) if writes > 0 else 0.0,
            "aqu_sz": round(max(a.weighted_ms - b.weighted_ms, 0) / ms, 2) if ms else 0.0,
            # two decimals, as iostat: a fast disk busy for 2 ms of a 6 s interval is 0.03%,
            # not 0.0
            "util_pct": round(min(100.0, 100.0 * max(a.io_ms - b.io_ms, 0) / ms), 2)
            if ms else 0.0,
        })
    out.sort(key=lambda r: (-r["util_pct"], -(r["r_per_s"] + r["w_per_s"]), r["disk"]))
    return out
