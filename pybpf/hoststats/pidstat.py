"""pidstat: each process's user and system CPU time from /proc/PID/stat, as a share of one
CPU between two readings (100% = one CPU busy, so a process with two busy threads shows 200%).
A process gone before a reading takes its last ticks along: `Tracker` reads often during an
interval and adds up what each process used between readings, so that a short-lived process
misses at most the time since the last reading."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pybpf.hoststats._read import text

HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Proc:
    pid: int
    comm: str
    utime: int  # ticks
    stime: int
    starttime: int  # ticks after boot: a pid reused between readings is a new process


def parse(pid: int, stat: str) -> Proc | None:
    """One /proc/PID/stat line. The name is in parentheses and may itself hold spaces and
    parentheses: the fields start after the last ')'."""
    open_, close = stat.find("("), stat.rfind(")")
    if open_ < 0 or close < 0:
        return None
    f = stat[close + 2:].split()
    try:
        # fields 14, 15 (utime, stime) and 22 (starttime) of proc(5), counted from 1; the
        # list starts at field 3
        return Proc(pid, stat[open_ + 1:close], int(f[11]), int(f[12]), int(f[19]))
    except (IndexError, ValueError):
        return None


def read(proc: str = "/proc") -> dict[int, Proc]:
    out = {}
    for name in os.listdir(proc):
        if name.isdigit():
            p = parse(int(name), text(f"{proc}/{name}/stat"))
            if p is not None:
                out[p.pid] = p
    return out


def delta(before: dict[int, Proc], after: dict[int, Proc], seconds: float,
          hz: int = HZ) -> list[dict[str, Any]]:
    """Processes that used CPU between the readings, busiest first. A process born in between
    counts from zero; one gone before the second reading is not seen (pidstat's limit too)."""
    out = []
    for pid, a in after.items():
        b = before.get(pid)
        if b is None or b.starttime != a.starttime:
            b = Proc(pid, a.comm, 0, 0, a.starttime)
        usr, sys_ = a.utime - b.utime, a.stime - b.stime
        if usr + sys_ <= 0 or seconds <= 0:
            continue
        scale = 100.0 / (hz * seconds)
        out.append({"pid": pid, "comm": a.comm, "usr_pct": round(usr * scale, 1),
                    "sys_pct": round(sys_ * scale, 1),
                    "cpu_pct": round((usr + sys_) * scale, 1)})
    out.sort(key=lambda r: (-r["cpu_pct"], r["pid"]))
    return out


class Tracker:
    """The CPU ticks of each process (by pid and start time) summed over many readings."""

    def __init__(self, first: dict[int, Proc]) -> None:
        self.last = first
        self.used: dict[tuple[int, int], list[Any]] = {}  # key -> [comm, utime, stime]

    def update(self, reading: dict[int, Proc]) -> None:
        for pid, a in reading.items():
            b = self.last.get(pid)
            if b is None or b.starttime != a.starttime:
                b = Proc(pid, a.comm, 0, 0, a.starttime)
            usr, sys_ = a.utime - b.utime, a.stime - b.stime
            if usr > 0 or sys_ > 0:
                e = self.used.setdefault((pid, a.starttime), [a.comm, 0, 0])
                e[0] = a.comm
                e[1] += max(usr, 0)
                e[2] += max(sys_, 0)
        self.last = reading

    def rows(self, seconds: float, hz: int = HZ) -> list[dict[str, Any]]:
        """As delta(): busiest first."""
        if seconds <= 0:
            return []
        scale = 100.0 / (hz * seconds)
        out = [{"pid": pid, "comm": comm, "usr_pct": round(usr * scale, 1),
                "sys_pct": round(sys_ * scale, 1), "cpu_pct": round((usr + sys_) * scale, 1)}
               for (pid, _), (comm, usr, sys_) in self.used.items()]
        out.sort(key=lambda r: (-r["cpu_pct"], r["pid"]))
        return out
