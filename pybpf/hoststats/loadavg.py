"""uptime: /proc/loadavg (1, 5 and 15 minute load, runnable/all tasks) and /proc/uptime."""

from __future__ import annotations

from typing import Any

from pybpf.hoststats._read import text


def parse(loadavg: str, uptime: str = "") -> dict[str, Any]:
    """{"load1", "load5", "load15", "runnable", "tasks", "uptime_s"}; zeros where missing."""
    out: dict[str, Any] = {"load1": 0.0, "load5": 0.0, "load15": 0.0, "runnable": 0,
                           "tasks": 0, "uptime_s": 0.0}
    f = loadavg.split()
    if len(f) >= 4:
        out["load1"], out["load5"], out["load15"] = (float(x) for x in f[:3])
        run, _, tasks = f[3].partition("/")
        out["runnable"], out["tasks"] = int(run), int(tasks or 0)
    if uptime.split():
        out["uptime_s"] = float(uptime.split()[0])
    return out


def read() -> dict[str, Any]:
    return parse(text("/proc/loadavg"), text("/proc/uptime"))
