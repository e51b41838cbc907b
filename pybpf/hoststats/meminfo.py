"""vmstat's memory and swap columns: /proc/meminfo (sizes, in KiB) and /proc/vmstat's page
counters (swap-ins and -outs, major faults, reclaim scans) as rates."""

from __future__ import annotations

from typing import Any

from pybpf.hoststats._read import rate, text

VMSTAT_COUNTERS = ("pswpin", "pswpout", "pgmajfault", "pgscan_direct", "pgscan_kswapd",
                   "oom_kill")


def parse_meminfo(meminfo: str) -> dict[str, int]:
    """{"MemTotal": KiB, ...}"""
    out = {}
    for line in meminfo.splitlines():
        name, sep, rest = line.partition(":")
        if sep and rest.split():
            out[name.strip()] = int(rest.split()[0])
    return out


def parse_vmstat(vmstat: str) -> dict[str, int]:
    out = {}
    for line in vmstat.splitlines():
        f = line.split()
        if len(f) == 2 and f[1].isdigit():
            out[f[0]] = int(f[1])
    return out


def read() -> tuple[dict[str, int], dict[str, int]]:
    return parse_meminfo(text("/proc/meminfo")), parse_vmstat(text("/proc/vmstat"))


def summary(mem: dict[str, int], vm_before: dict[str, int], vm_after: dict[str, int],
            seconds: float) -> dict[str, Any]:
    """Memory in MiB as `free -m` shows it, swap use, and page counters per second."""
    def mib(name: str) -> int:
        return mem.get(name, 0) // 1024

    total = mib("MemTotal")
    avail = mib("MemAvailable")
    out: dict[str, Any] = {
        "total_mib": total, "free_mib": mib("MemFree"), "available_mib": avail,
        "buffers_mib": mib("Buffers"), "cached_mib": mib("Cached"),
        "used_pct": round(100.0 * (total - avail) / total, 1) if total else 0.0,
        "swap_total_mib": mib("SwapTotal"),
        "swap_used_mib": mib("SwapTotal") - mib("SwapFree"),
        "dirty_mib": mib("Dirty"),
    }
    # pgscan_direct/kswapd are split per zone type on some kernels: add up the prefixes
    def counter(values: dict[str, int], prefix: str) -> int:
        return sum(v for k, v in values.items() if k == prefix or k.startswith(prefix + "_"))

    for name in VMSTAT_COUNTERS:
        out[f"{name}_per_s"] = round(rate(counter(vm_after, name), counter(vm_before, name),
                                          seconds), 1)
    return out
