"""vmstat's and mpstat's CPU columns from /proc/stat: the time each CPU spent in each state
(in USER_HZ ticks; guest time is already inside user, so it is not added again), plus the
context switches, forks and the run queue (procs_running, procs_blocked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.hoststats._read import rate, text

STATES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass
class CPUStat:
    cpus: dict[str, tuple[int, ...]] = field(default_factory=dict)  # "all", "0", "1", ...
    ctxt: int = 0
    processes: int = 0  # forks since boot
    running: int = 0
    blocked: int = 0


def parse(stat: str) -> CPUStat:
    out = CPUStat()
    for line in stat.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0].startswith("cpu"):
            name = f[0][3:] or "all"
            ticks = [int(x) for x in f[1:1 + len(STATES)]]
            out.cpus[name] = tuple(ticks + [0] * (len(STATES) - len(ticks)))
        elif f[0] == "ctxt":
            out.ctxt = int(f[1])
        elif f[0] == "processes":
            out.processes = int(f[1])
        elif f[0] == "procs_running":
            out.running = int(f[1])
        elif f[0] == "procs_blocked":
            out.blocked = int(f[1])
    return out


def read() -> CPUStat:
    return parse(text("/proc/stat"))


def percentages(before: tuple[int, ...], after: tuple[int, ...]) -> dict[str, float]:
    """Each state's share of the ticks between two readings of one CPU, in percent."""
    d = [max(a - b, 0) for a, b in zip(after, before, strict=True)]
    total = sum(d)
    if not total:
        return {s: 0.0 for s in STATES} | {"busy": 0.0}
    pct = {s: round(100.0 * v / total, 1) for s, v in zip(STATES, d, strict=True)}
    pct["busy"] = round(100.0 - 100.0 * (d[3] + d[4]) / total, 1)  # not idle, not iowait
    return pct


def delta(before: CPUStat, after: CPUStat, seconds: float) -> dict[str, Any]:
    """{"all": {state: %}, "per_cpu": [{"cpu": "0", state: %}...], "ctxt_per_s",
    "forks_per_s", "running", "blocked"} (the run queue as the second reading saw it)."""
    per_cpu = [{"cpu": name} | percentages(before.cpus[name], ticks)
               for name, ticks in after.cpus.items() if name != "all" and name in before.cpus]
    per_cpu.sort(key=lambda c: int(c["cpu"]))
    whole = percentages(before.cpus.get("all", ()), after.cpus.get("all", ())) \
        if "all" in before.cpus and "all" in after.cpus else {}
    return {"all": whole, "per_cpu": per_cpu,
            "ctxt_per_s": round(rate(after.ctxt, before.ctxt, seconds), 1),
            "forks_per_s": round(rate(after.processes, before.processes, seconds), 1),
            "running": after.running, "blocked": after.blocked}
