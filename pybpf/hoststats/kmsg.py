"""dmesg: the kernel's log from /dev/kmsg, records of level warning (4) and worse. Each record
is "PRIORITY,SEQUENCE,MICROSECONDS,FLAGS[,...];MESSAGE" then continuation lines that start with
a space (key=value dictionary entries, skipped)."""

from __future__ import annotations

import errno
import os
from typing import Any

LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
WARNING = 4


def parse_record(record: str) -> dict[str, Any] | None:
    """One record -> {"level", "level_name", "seq", "time_s", "message"}, or None if malformed."""
    head, sep, rest = record.partition(";")
    if not sep:
        return None
    fields = head.split(",")
    try:
        prio, seq, usecs = int(fields[0]), int(fields[1]), int(fields[2])
    except (IndexError, ValueError):
        return None
    message = rest.split("\n", 1)[0]
    level = prio & 7
    return {"level": level, "level_name": LEVELS[level], "seq": seq,
            "time_s": usecs / 1e6, "message": message}


def parse(records: list[str], max_level: int = WARNING, since_s: float = 0.0
          ) -> list[dict[str, Any]]:
    """The records of level `max_level` or worse logged at or after `since_s` (seconds since
    boot), oldest first."""
    out = []
    for rec in records:
        r = parse_record(rec)
        if r is not None and r["level"] <= max_level and r["time_s"] >= since_s:
            out.append(r)
    return out


def read_records(path: str = "/dev/kmsg", limit: int = 100_000) -> list[str]:
    """Every record still in the kernel's buffer (one read() returns one record; EAGAIN at the
    end; EPIPE when the buffer wrapped past our position, after which reading goes on). [] when
    the log cannot be read (no privilege, dmesg_restrict)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    out: list[str] = []
    try:
        while len(out) < limit:
            try:
                data = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:
                    continue
                break
            if not data:
                break
            out.append(data.decode("utf-8", "replace"))
    finally:
        os.close(fd)
    return out


def read(since_s: float = 0.0, max_level: int = WARNING) -> list[dict[str, Any]]:
    return parse(read_records(), max_level, since_s)
