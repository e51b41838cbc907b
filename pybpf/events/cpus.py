"""CPU lists as the kernel prints them (/sys/devices/system/cpu/online: "0-3,8,10-11")."""

from __future__ import annotations


def parse_cpu_list(text: str) -> list[int]:
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def online_cpus() -> list[int]:
    with open("/sys/devices/system/cpu/online") as f:
        return parse_cpu_list(f.read())
