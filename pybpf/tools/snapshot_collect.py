"""The BPF side of `pybpf snapshot`: the sessions run together for the interval, what their
events and maps add up to, and the BPF sections of the report (see snapshot_schema for their
form). Lists are aggregated (per command, per endpoint, per process) and ranked by the
section's measure; every list keeps its top `top` rows and says how many more there were."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pybpf.names import disks
from pybpf.tools import histograms, runner

PROFILE_HZ = 49
RECENT_EXECS = 30  # the latest execs listed one by one, after the per-command table


def ranked(rows: list[dict[str, Any]], top: int) -> dict[str, Any]:
    """The first `top` of rows already in rank order, and how many are left off."""
    return {"rows": rows[:top], "more": max(len(rows) - top, 0)}


@dataclass
class ExecTally:
    """The execs of one command."""
    count: int = 0
    pids: list[int] = field(default_factory=list)
    first_s: float = 0.0
    last_s: float = 0.0
    args: list[str] = field(default_factory=list)  # of the latest


class Collector:
    """The sessions of one snapshot and what their events add up to."""

    def __init__(self) -> None:
        from pybpf.session import Group
        from pybpf.tools import (
            biolatency,
            exitsnoop,
            opensnoop,
            profile,
            runqlat,
            snapshot_probes,
            tcpstates,
        )

        self.me = os.getpid()
        self.group = Group()
        self.sys, self.sc_nr, self.sc_proc, self.sc_proc_nr = \
            snapshot_probes.syscalls(self.me)
        self.execs = snapshot_probes.execs()
        self.exits = exitsnoop.build()
        self.opens = opensnoop.build(ring_size=snapshot_probes.OPEN_RING)
        self.bio, self.bio_dist, self.bio_totals = biolatency.build(per_disk=True)
        self.rq, self.rq_dist = runqlat.build()
        self.tcp = tcpstates.build()
        self.sigs = snapshot_probes.signals()
        self.ooms = snapshot_probes.oom_kills()
        self.retr, self.retr_counts = snapshot_probes.retransmits()
        self.prof, self.prof_counts = profile.build(frequency=PROFILE_HZ)
        self.sections = {  # the report section each session's losses belong to
            "syscalls": self.sys, "processes": self.execs, "exits": self.exits,
            "files": self.opens, "block_io": self.bio, "runqueue": self.rq, "tcp": self.tcp,
            "signals": self.sigs, "oom_kills": self.ooms, "retransmits": self.retr,
            "on_cpu": self.prof}
        for s in self.sections.values():
            self.group.add(s)
        from pybpf.tools import tcplife

        self.lives = tcplife.Lives()
        self.tcp_opened = 0
        self.sessions: list[dict[str, Any]] = []
        self.exec_args: dict[int, list[str]] = {}
        self.execs_by_comm: dict[str, ExecTally] = {}
        self.exec_recent: list[dict[str, Any]] = []
        self.exec_count = 0
        self.exec_failures = 0
        self.comms: dict[int, str] = {}  # names of processes gone before the report
        self.exit_count = 0
        self.exits_bad: Counter[tuple[str, str]] = Counter()
        self.file_opens: Counter[tuple[str, str]] = Counter()
        self.file_errors: Counter[tuple[str, str]] = Counter()
        self.open_count = 0
        self.signals: Counter[tuple[str, str, str]] = Counter()
        self.oom_rows: list[dict[str, Any]] = []
        self.heat: dict[int, list[tuple[float, dict[int, int]]]] = {}
        self.bio_sum: dict[int, dict[int, int]] = {}
        self.start = time.monotonic()
        self.start_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)  # bpf_ktime_get_ns's clock

    def attach(self) -> None:
        self.group.attach()
        self.start = time.monotonic()
        self.start_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)

    def stop(self) -> None:
        """Detach every program (the maps stay readable): the counts read after this are the
        final ones, so a total and the rows it sums agree."""
        for s in self.group.sessions:
            for a in reversed(s.attachments):
                try:
                    a.close()
                except Exception:  # noqa: BLE001 - detach the rest
                    pass
            s.attachments.clear()

    # -- events ---------------------------------------------------------------------------
    def drain(self) -> None:
        from pybpf.tools import exitsnoop
        from pybpf.tools.killsnoop import signal_name

        for session, events in self.group.poll_each(0):
            for ev in events:
                if session is self.execs:
                    self.on_exec(ev)
                elif session is self.exits:
                    name = runner.text(ev.comm)
                    self.comms[ev.pid] = name
                    self.exit_count += 1
                    if ev.exit_code:
                        self.exits_bad[(name, exitsnoop.describe(ev.exit_code))] += 1
                elif session is self.opens:
                    self.on_open(ev)
                elif session is self.tcp:
                    self.on_tcp(ev)
                elif session is self.sigs:
                    self.signals[(signal_name(ev.sig), runner.text(ev.sender_comm),
                                  runner.text(ev.target_comm))] += 1
                elif session is self.ooms:
                    self.oom_rows.append({"pid": ev.pid, "uid": ev.uid,
                                          "comm": runner.text(ev.comm)})

    def seconds(self, ts_ns: int) -> float:
        """A BPF timestamp (ktime_get_ns) as seconds since the snapshot started."""
        return round((ts_ns - self.start_ns) / 1e9, 6)

    def on_exec(self, ev: Any) -> None:
        if ev.kind == 0:
            self.exec_args.setdefault(ev.pid, []).append(runner.text(ev.arg))
            return
        args = self.exec_args.pop(ev.pid, [])
        if ev.retval != 0:
            self.exec_failures += 1
            return
        name = runner.text(ev.comm)
        self.comms[ev.pid] = name
        self.exec_count += 1
        t = self.seconds(ev.ts)
        tally = self.execs_by_comm.setdefault(name, ExecTally(first_s=t))
        tally.count += 1
        tally.last_s = t
        tally.args = args
        if len(tally.pids) < 5 and ev.pid not in tally.pids:
            tally.pids.append(ev.pid)
        self.exec_recent.append({"time_s": t, "comm": name, "pid": ev.pid, "ppid": ev.ppid,
                                 "args": args})
        del self.exec_recent[:-RECENT_EXECS]

    def on_open(self, ev: Any) -> None:
        if ev.pid == self.me:
            return
        self.open_count += 1
        key = (runner.text(ev.path) or "[path not readable]", runner.text(ev.comm))
        self.file_opens[key] += 1
        if ev.ret < 0:
            self.file_errors[key] += 1

    def on_tcp(self, ev: Any) -> None:
        from pybpf.tools import tcpstates

        if ev.newstate == tcpstates.ESTABLISHED:
            self.tcp_opened += 1
        rec = self.lives.feed(ev)
        if rec is not None:
            rec.pop("ts", None)
            self.sessions.append(rec)

    def sample_bio(self) -> None:
        """One heat map column per disk: the latencies since the last sample."""
        t = time.monotonic() - self.start
        per = histograms.read_keyed(self.bio_dist)
        for dev in set(per) | set(self.heat):
            col = per.get(dev, {})
            self.heat.setdefault(dev, []).append((t, col))
            total = self.bio_sum.setdefault(dev, {})
            for k, v in col.items():
                total[k] = total.get(k, 0) + v

    # -- the report -----------------------------------------------------------------------
    def name_of(self, pid: int) -> str:
        from pybpf.tools import procfs

        name = procfs.comm(pid)
        return self.comms.get(pid, name) if name == "[unknown]" else name

    def losses(self) -> list[dict[str, Any]]:
        """Every record a ring buffer refused and every insert a full map refused, by the
        section whose numbers miss them."""
        out = []
        for section, s in self.sections.items():
            lost = s.lost_events()
            if lost:
                out.append({"section": section, "what": s.unit, "count": lost,
                            "reason": "the ring buffer was full (records lost)"})
            for name, n in sorted(s.refused_updates().items()):
                out.append({"section": section, "what": f"inserts into map '{name}'",
                            "count": n, "reason": "the map was full (those keys are missing "
                            "from the section's rows, not from its totals where it has one)"
                            if section == "syscalls" else "the map was full"})
        return out

    def syscall_section(self, top: int) -> dict[str, Any]:
        from pybpf.names.syscalls import syscall_name

        by_nr = Counter({int(nr): int(n) for nr, n in self.sc_nr.items()})
        total = sum(by_nr.values())
        per_proc_nr: dict[int, Counter[int]] = {}
        for (p, nr), n in self.sc_proc_nr.items():
            per_proc_nr.setdefault(int(p), Counter())[int(nr)] += int(n)
        procs = []
        for p, n in sorted(self.sc_proc.items(), key=lambda kv: -kv[1]):
            c = per_proc_nr.get(int(p), Counter())
            procs.append({"pid": int(p), "comm": self.name_of(int(p)), "count": int(n),
                          "top": [{"syscall": syscall_name(nr), "count": k}
                                  for nr, k in c.most_common(5)]})
        counted = sum(p["count"] for p in procs)
        return {"total": total, "per_second": 0.0,
                "by_syscall": ranked([{"syscall": syscall_name(nr), "count": n}
                                      for nr, n in by_nr.most_common()], top),
                "by_process": ranked(procs, top),
                "not_attributed": total - counted}

    def exec_section(self, top: int) -> dict[str, Any]:
        rows = [{"comm": name, "count": t.count, "first_s": t.first_s, "last_s": t.last_s,
                 "pids": t.pids, "args": t.args}
                for name, t in self.execs_by_comm.items()]
        rows.sort(key=lambda r: (-r["count"], r["first_s"]))
        bad = [{"comm": c, "description": d, "count": n} for (c, d), n in
               self.exits_bad.most_common()]
        return {"execs": self.exec_count, "exec_failures": self.exec_failures,
                "by_command": ranked(rows, top), "recent": self.exec_recent[-top:],
                "exits": self.exit_count,
                "exits_nonzero": sum(self.exits_bad.values()),
                "exits_nonzero_by_command": ranked(bad, top)}

    def tcp_section(self, top: int) -> dict[str, Any]:
        """Sessions per endpoint: a client's by the remote address and port it connected to,
        a server's by the local address and port it accepted on (the other side's port is
        ephemeral, one per session)."""
        per: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        for s in self.sessions:
            active = bool(s.get("active"))
            addr, port = (s["raddr"], s["rport"]) if active else (s["laddr"], s["lport"])
            key = ("connect" if active else "accept", s["comm"], addr, port)
            e = per.setdefault(key, {"direction": key[0], "comm": s["comm"], "addr": addr,
                                     "port": port, "sessions": 0, "tx_bytes": 0,
                                     "rx_bytes": 0, "total_ms": 0.0, "max_ms": 0.0,
                                     "pids": []})
            e["sessions"] += 1
            e["tx_bytes"] += s["tx_bytes"]
            e["rx_bytes"] += s["rx_bytes"]
            e["total_ms"] += s["ms"]
            e["max_ms"] = max(e["max_ms"], s["ms"])
            if s["pid"] not in e["pids"] and len(e["pids"]) < 5:
                e["pids"].append(s["pid"])
        endpoints = []
        for e in per.values():
            e["avg_ms"] = round(e.pop("total_ms") / e["sessions"], 3)
            e["max_ms"] = round(e["max_ms"], 3)
            endpoints.append(e)
        endpoints.sort(key=lambda e: (-e["sessions"], -(e["tx_bytes"] + e["rx_bytes"])))
        largest = sorted(self.sessions, key=lambda s: -(s["tx_bytes"] + s["rx_bytes"]))
        retrans = []
        for (fam, daddr, dport), n in self.retr_counts.items():
            addr = socket.inet_ntoa(int(daddr).to_bytes(4, "little")) \
                if fam == socket.AF_INET else "[IPv6]"
            retrans.append({"daddr": addr, "dport": int(dport), "count": int(n)})
        retrans.sort(key=lambda x: -x["count"])
        return {"opened": self.tcp_opened, "closed": len(self.sessions),
                "endpoints": ranked(endpoints, top),
                "largest_sessions": ranked(largest, top),
                "retransmits": sum(r["count"] for r in retrans),
                "retransmit_targets": ranked(retrans, top)}

    def on_cpu_section(self, duration: float, top: int) -> tuple[dict[str, Any],
                                                                 dict[str, int]]:
        """Samples per process (a share of one CPU: 100% = always on a CPU when sampled), the
        hottest stacks, and the folded stacks for the flame graph."""
        from pybpf.tools import stacks

        per: dict[int, dict[str, Any]] = {}
        samples = 0
        items = list(self.prof_counts.items())
        for (p, _tid, _k, _u, comm), n in items:
            samples += int(n)
            e = per.setdefault(int(p), {"pid": int(p), "comm": runner.text(comm),
                                        "samples": 0})
            e["samples"] += int(n)
        expected = PROFILE_HZ * duration or 1.0
        rows = sorted(per.values(), key=lambda e: (-e["samples"], e["pid"]))
        for e in rows:
            e["cpu_pct"] = round(100.0 * e["samples"] / expected, 1)
        sym = stacks.Symbolizer(self.prof.stacks())
        folded = stacks.print_stacks(items, sym, None)
        hot = [{"stack": k, "samples": v} for k, v in
               sorted(folded.items(), key=lambda kv: -kv[1])]
        return ({"frequency_hz": PROFILE_HZ, "samples": samples,
                 "by_process": ranked(rows, top), "stacks": ranked(hot, min(top, 10))},
                folded)

    def report(self, duration: float, top: int) -> tuple[dict[str, Any], dict[str, int]]:
        """The BPF sections, and the on-CPU folded stacks (for the flame graph)."""
        from pybpf.output.hist import log2_json

        sc = self.syscall_section(top)
        sc["per_second"] = round(sc["total"] / duration, 1) if duration else 0.0
        files = [{"path": path, "comm": comm, "opens": n,
                  "errors": self.file_errors.get((path, comm), 0)}
                 for (path, comm), n in self.file_opens.most_common()]
        names = disks.disk_names()
        per_disk = []
        totals = {k: (v.count, v.total) for k, v in self.bio_totals.items()}
        for dev, buckets in sorted(self.bio_sum.items()):
            n, tot = totals.get(dev, (0, 0))
            per_disk.append({"disk": disks.disk_name(dev, names), "count": n,
                             "avg_usecs": round(tot / n, 1) if n else 0.0,
                             "hist": log2_json(buckets, "usecs")})
        per_disk.sort(key=lambda d: -d["count"])
        rq = histograms.read_keyed(self.rq_dist).get(0, {})
        sigs = [{"signal": sig, "sender": sender, "target": target, "count": n}
                for (sig, sender, target), n in self.signals.most_common()]
        on_cpu, folded = self.on_cpu_section(duration, top)
        return ({
            "on_cpu": on_cpu,
            "syscalls": sc,
            "processes": self.exec_section(top),
            "files": {"opens": self.open_count, "errors": sum(self.file_errors.values()),
                      **ranked(files, top)},
            "block_io": per_disk,
            "runqueue": log2_json(rq, "usecs"),
            "tcp": self.tcp_section(top),
            "signals": {"count": sum(self.signals.values()), **ranked(sigs, top)},
            "oom_kills": self.oom_rows,
            "losses": self.losses(),
        }, folded)

    def heatmaps(self) -> list[tuple[str, list[tuple[float, dict[int, int]]]]]:
        names = disks.disk_names()
        return [(disks.disk_name(dev, names), cols) for dev, cols in sorted(self.heat.items())
                if any(col for _, col in cols)]

    def close(self) -> None:
        self.group.close()
