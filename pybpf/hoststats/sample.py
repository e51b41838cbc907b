"""Two readings of every /proc source and what they add up to: `Sample.take()` at the start of
an interval, `.finish()` at its end gives the report's host sections (one JSON-able dict);
`.tick()` in between reads the processes again, for those that do not live to the end."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pybpf.hoststats import cpustat, diskstats, kmsg, loadavg, meminfo, netdev, pidstat, snmp

# kernel messages this long before the interval are still "recent" (dmesg | tail)
KMSG_LOOKBACK_S = 600.0


@dataclass
class Sample:
    when: float
    cpu: cpustat.CPUStat
    vm: dict[str, int]
    procs: dict[int, pidstat.Proc]
    disks: dict[str, diskstats.Disk]
    nets: dict[str, dict[str, int]]
    tcp: dict[str, dict[str, int]]
    uptime_s: float
    tracker: pidstat.Tracker | None = None

    @classmethod
    def take(cls) -> Sample:
        procs = pidstat.read()
        return cls(time.monotonic(), cpustat.read(), meminfo.read()[1], procs,
                   diskstats.read(), netdev.read(), snmp.read(), loadavg.read()["uptime_s"],
                   pidstat.Tracker(procs))

    def tick(self) -> None:
        """Read the processes again (call it every second or so): those that end before the
        interval does keep what they used up to the last tick."""
        if self.tracker is not None:
            self.tracker.update(pidstat.read())

    def finish(self, top: int = 50) -> dict[str, Any]:
        """The host sections over the seconds since take()."""
        end = Sample.take()
        seconds = end.when - self.when
        mem, _ = meminfo.read()
        nets = netdev.delta(self.nets, end.nets, seconds,
                            {name: netdev.speed_mbps(name) for name in end.nets})
        if self.tracker is not None:
            self.tracker.update(end.procs)
            procs = self.tracker.rows(seconds)
        else:
            procs = pidstat.delta(self.procs, end.procs, seconds)
        messages = kmsg.read(since_s=max(self.uptime_s - KMSG_LOOKBACK_S, 0.0))
        return {
            "interval_s": round(seconds, 3),
            "load": loadavg.read(),
            "cpu": cpustat.delta(self.cpu, end.cpu, seconds),
            "memory": meminfo.summary(mem, self.vm, end.vm, seconds),
            "processes_cpu": {"rows": procs[:top], "more": max(len(procs) - top, 0)},
            "disks": diskstats.delta(self.disks, end.disks, seconds, diskstats.whole_disks()),
            "interfaces": nets,
            "tcp": snmp.delta(self.tcp, end.tcp, seconds),
            "kernel_messages": {"rows": messages[-top:],
                                "more": max(len(messages) - top, 0),
                                "since_uptime_s": round(max(self.uptime_s - KMSG_LOOKBACK_S,
                                                            0.0), 1)},
        }
