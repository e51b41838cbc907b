"""The report of `pybpf snapshot`, built once from its JSON-able dict as a list of sections
(title, lines, tables, histograms), then written as text here and as HTML by output.html: both
formats show the same content, and the JSON is the dict itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pybpf.output.hist import log2_lines


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    right: set[int] = field(default_factory=set)  # columns aligned right (numbers)
    more: int = 0  # rows left off ("... and N more")


@dataclass
class Section:
    key: str  # the JSON key it shows (an HTML anchor)
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    hists: list[tuple[str, dict[int, int]]] = field(default_factory=list)  # caption, buckets
    notes: list[str] = field(default_factory=list)  # losses: what this section misses


def buckets_of(h: dict[str, Any]) -> dict[int, int]:
    """A histogram in JSON form (bcc bounds) back to pybpf's log2 buckets."""
    return {max(b["low"].bit_length(), 1): b["count"] for b in h.get("buckets", [])}


def _table(headers: Sequence[str], rows: Sequence[Any], cells: Callable[[Any], Sequence[Any]],
           more: int = 0, left: Sequence[int] = ()) -> Table:
    """A table of `rows` with each row's cells from `cells(row)`: numbers right-aligned, the
    columns in `left` (names, paths) left-aligned."""
    out = [[_cell(v) for v in cells(row)] for row in rows]
    return Table(list(headers), out, {i for i in range(len(headers)) if i not in left}, more)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) < 1e6 else f"{v:.0f}"
    return str(v)


def _loss_notes(r: dict[str, Any], *sections: str) -> list[str]:
    return [f"incomplete: {x['count']} {x['what']} refused: {x['reason']}"
            for x in r.get("losses", []) if x["section"] in sections]


def sections(r: dict[str, Any]) -> list[Section]:
    h = r["host_stats"]
    out: list[Section] = []

    s = Section("summary", f"Summary: {len(r['summary'])} finding"
                f"{'s' if len(r['summary']) != 1 else ''}")
    if r["summary"]:
        s.tables.append(_table(["SEVERITY", "SECTION", "FINDING", "EVIDENCE"], r["summary"],
                               lambda f: (f["severity"], f["section"], f["title"],
                                          f["evidence"]), left=(0, 1, 2, 3)))
    else:
        s.lines.append("nothing stands out: no saturation, errors or outliers found")
    out.append(s)

    ld = h["load"]
    days, rest = divmod(int(ld["uptime_s"]), 86400)
    out.append(Section("load", "Load and uptime (uptime)", [
        f"up {days} days {rest // 3600:02d}:{rest % 3600 // 60:02d}, load average "
        f"{ld['load1']:.2f}, {ld['load5']:.2f}, {ld['load15']:.2f} on {r['cpus']} CPUs; "
        f"{ld['runnable']} runnable of {ld['tasks']} tasks"]))

    km = h["kernel_messages"]
    s = Section("kernel_messages", "Kernel messages, warning and worse (dmesg)")
    if km["rows"]:
        s.tables.append(_table(["TIME(s)", "LEVEL", "MESSAGE"], km["rows"],
                               lambda m: (f"{m['time_s']:.3f}", m["level_name"], m["message"]),
                               km["more"], left=(1, 2)))
    else:
        s.lines.append(f"(none since {km['since_uptime_s']:.0f} s after boot, or the log "
                       "cannot be read)")
    out.append(s)

    cpu, mem = h["cpu"], h["memory"]
    a = cpu["all"]
    s = Section("cpu", "CPU, memory, run queue (vmstat)")
    s.tables.append(_table(
        ["r", "b", "cs/s", "forks/s", "us", "sy", "id", "wa", "st", "avail MiB", "free MiB",
         "buff MiB", "cache MiB", "swap used", "si/s", "so/s", "majflt/s"], [0],
        lambda _: (cpu["running"], cpu["blocked"], cpu["ctxt_per_s"], cpu["forks_per_s"],
                   a.get("user", 0.0) + a.get("nice", 0.0), a.get("system", 0.0),
                   a.get("idle", 0.0), a.get("iowait", 0.0), a.get("steal", 0.0),
                   mem["available_mib"], mem["free_mib"], mem["buffers_mib"],
                   mem["cached_mib"], mem["swap_used_mib"], mem["pswpin_per_s"],
                   mem["pswpout_per_s"], mem["pgmajfault_per_s"])))
    s.lines.append(f"memory: {mem['total_mib']} MiB, {mem['used_pct']:.1f}% in use; "
                   f"direct reclaim {mem['pgscan_direct_per_s']:.0f} pages/s, kswapd "
                   f"{mem['pgscan_kswapd_per_s']:.0f} pages/s")
    out.append(s)

    s = Section("per_cpu", "Per-CPU utilisation (mpstat -P ALL), %")
    rows = ([{"cpu": "all", **a}] if a else []) + cpu["per_cpu"]
    s.tables.append(_table(["CPU", "%usr", "%nice", "%sys", "%iowait", "%irq", "%soft",
                            "%steal", "%idle", "%busy"], rows,
                           lambda c: (c["cpu"], c["user"], c["nice"], c["system"],
                                      c["iowait"], c["irq"], c["softirq"], c["steal"],
                                      c["idle"], c["busy"])))
    out.append(s)

    pc = h["processes_cpu"]
    s = Section("processes_cpu", "Per-process CPU (pidstat), % of one CPU")
    if pc["rows"]:
        s.tables.append(_table(["PID", "%usr", "%system", "%CPU", "COMMAND"], pc["rows"],
                               lambda p: (p["pid"], p["usr_pct"], p["sys_pct"], p["cpu_pct"],
                                          p["comm"]), pc["more"], left=(4,)))
    else:
        s.lines.append("(no process used CPU)")
    out.append(s)

    oc = r["on_cpu"]
    s = Section("on_cpu", f"On-CPU processes and stacks (BPF sampling at "
                f"{oc['frequency_hz']} Hz: {oc['samples']} samples)")
    if oc["by_process"]["rows"]:
        s.tables.append(_table(["PID", "SAMPLES", "%CPU", "COMMAND"], oc["by_process"]["rows"],
                               lambda p: (p["pid"], p["samples"], p["cpu_pct"], p["comm"]),
                               oc["by_process"]["more"], left=(3,)))
        s.tables.append(_table(["SAMPLES", "STACK (process;user frames;kernel frames)"],
                               oc["stacks"]["rows"],
                               lambda st: (st["samples"], st["stack"]),
                               oc["stacks"]["more"], left=(1,)))
    else:
        s.lines.append("(no samples: every CPU idle)")
    s.notes = _loss_notes(r, "on_cpu")
    out.append(s)

    s = Section("disks", "Disks (iostat -x)")
    if h["disks"]:
        s.tables.append(_table(["DEVICE", "r/s", "w/s", "rkB/s", "wkB/s", "r_await",
                                "w_await", "aqu-sz", "%util"], h["disks"],
                               lambda d: (d["disk"], d["r_per_s"], d["w_per_s"],
                                          d["rkb_per_s"], d["wkb_per_s"], d["r_await_ms"],
                                          d["w_await_ms"], d["aqu_sz"], d["util_pct"]),
                               left=(0,)))
    else:
        s.lines.append("(no disk did I/O)")
    out.append(s)

    s = Section("block_io", "Block I/O latency per disk (BPF)")
    for d in r["block_io"]:
        s.hists.append((f"disk = {d['disk']}  ({d['count']} I/Os, avg "
                        f"{d['avg_usecs']:.0f} usecs)", buckets_of(d["hist"])))
    if not r["block_io"]:
        s.lines.append("(no block I/O)")
    s.notes = _loss_notes(r, "block_io")
    out.append(s)

    s = Section("interfaces", "Network interfaces (sar -n DEV,EDEV), per second")
    if h["interfaces"]:
        s.tables.append(_table(["IFACE", "rxpck/s", "txpck/s", "rxkB/s", "txkB/s", "%ifutil",
                                "rxerr/s", "txerr/s", "coll/s", "rxdrop/s", "txdrop/s",
                                "rxfifo/s", "txfifo/s", "rxfram/s", "txcarr/s"],
                               h["interfaces"],
                               lambda i: (i["iface"], i["rxpck_per_s"], i["txpck_per_s"],
                                          i["rxkb_per_s"], i["txkb_per_s"],
                                          "-" if i["ifutil_pct"] is None else i["ifutil_pct"],
                                          i["rx_errs_per_s"], i["tx_errs_per_s"],
                                          i["tx_colls_per_s"], i["rx_drop_per_s"],
                                          i["tx_drop_per_s"], i["rx_fifo_per_s"],
                                          i["tx_fifo_per_s"], i["rx_frame_per_s"],
                                          i["tx_carrier_per_s"]), left=(0,)))
    out.append(s)

    t, tcp = h["tcp"], r["tcp"]
    s = Section("tcp", f"TCP (sar -n TCP,ETCP; BPF): {tcp['opened']} opened, {tcp['closed']} "
                f"closed, {tcp['retransmits']} retransmits")
    s.tables.append(_table(["active/s", "passive/s", "iseg/s", "oseg/s", "atmptf/s",
                            "estres/s", "retrans/s", "isegerr/s", "orsts/s", "%retrans",
                            "estab"], [t],
                           lambda x: (x["active_per_s"], x["passive_per_s"], x["iseg_per_s"],
                                      x["oseg_per_s"], x["atmptf_per_s"], x["estres_per_s"],
                                      x["retrans_per_s"], x["isegerr_per_s"],
                                      x["orsts_per_s"], f"{x['retrans_pct']:.2f}",
                                      x["established"])))
    ep = tcp["endpoints"]
    if ep["rows"]:
        s.tables.append(_table(["SESSIONS", "DIR", "COMM", "ENDPOINT", "TX_KB", "RX_KB",
                                "AVG_MS", "MAX_MS"], ep["rows"],
                               lambda e: (e["sessions"], e["direction"], e["comm"],
                                          f"{e['addr']}:{e['port']}", e["tx_bytes"] // 1024,
                                          e["rx_bytes"] // 1024, f"{e['avg_ms']:.2f}",
                                          f"{e['max_ms']:.2f}"), ep["more"],
                               left=(1, 2, 3)))
    else:
        s.lines.append("(no TCP session ended)")
    rt = tcp["retransmit_targets"]
    if rt["rows"]:
        s.tables.append(_table(["RETRANSMITS", "TO"], rt["rows"],
                               lambda x: (x["count"], f"{x['daddr']}:{x['dport']}"),
                               rt["more"], left=(1,)))
    s.notes = _loss_notes(r, "tcp", "retransmits")
    out.append(s)

    s = Section("runqueue", "Run queue latency (BPF)")
    if r["runqueue"]["buckets"]:
        s.hists.append(("", buckets_of(r["runqueue"])))
    else:
        s.lines.append("(none)")
    s.notes = _loss_notes(r, "runqueue")
    out.append(s)

    sc = r["syscalls"]
    s = Section("syscalls", f"System calls (BPF): {sc['total']} in all, "
                f"{sc['per_second']:.0f}/s")
    if sc["by_syscall"]["rows"]:
        s.tables.append(_table(["SYSCALL", "COUNT"], sc["by_syscall"]["rows"],
                               lambda x: (x["syscall"], x["count"]), sc["by_syscall"]["more"],
                               left=(0,)))
        s.tables.append(_table(["PID", "COMM", "SYSCALLS", "TOP SYSCALLS"],
                               sc["by_process"]["rows"],
                               lambda p: (p["pid"], p["comm"], p["count"],
                                          ", ".join(f"{x['syscall']} {x['count']}"
                                                    for x in p["top"][:4])),
                               sc["by_process"]["more"], left=(1, 3)))
    else:
        s.lines.append("(none)")
    if sc["not_attributed"]:
        s.notes.append(f"{sc['not_attributed']} of the {sc['total']} calls were made by "
                       "processes the per-process map had no room for (they are in the "
                       "total and the per-syscall counts)")
    s.notes += _loss_notes(r, "syscalls")
    out.append(s)

    pr = r["processes"]
    s = Section("processes", f"New processes (BPF): {pr['execs']} execs "
                f"({pr['exec_failures']} failed), {pr['exits']} exits "
                f"({pr['exits_nonzero']} non-zero or killed)")
    if pr["by_command"]["rows"]:
        s.tables.append(_table(["EXECS", "COMM", "FIRST(s)", "LAST(s)", "PIDS", "LAST ARGS"],
                               pr["by_command"]["rows"],
                               lambda e: (e["count"], e["comm"], f"{e['first_s']:.3f}",
                                          f"{e['last_s']:.3f}",
                                          " ".join(str(p) for p in e["pids"]),
                                          " ".join(e["args"])),
                               pr["by_command"]["more"], left=(1, 4, 5)))
        s.tables.append(_table(["TIME(s)", "COMM", "PID", "PPID", "ARGS"], pr["recent"],
                               lambda e: (f"{e['time_s']:.3f}", e["comm"], e["pid"],
                                          e["ppid"], " ".join(e["args"])),
                               max(pr["execs"] - len(pr["recent"]), 0), left=(1, 4)))
    bad = pr["exits_nonzero_by_command"]
    if bad["rows"]:
        s.tables.append(_table(["EXITS", "COMM", "HOW"], bad["rows"],
                               lambda e: (e["count"], e["comm"], e["description"]),
                               bad["more"], left=(1, 2)))
    s.notes = _loss_notes(r, "processes", "exits")
    out.append(s)

    f = r["files"]
    s = Section("files", f"Files opened most (BPF): {f['opens']} opens, {f['errors']} failed")
    if f["rows"]:
        s.tables.append(_table(["OPENS", "ERRORS", "PROCESS", "PATH"], f["rows"],
                               lambda x: (x["opens"], x["errors"], x["comm"], x["path"]),
                               f["more"], left=(2, 3)))
    else:
        s.lines.append("(none)")
    s.notes = _loss_notes(r, "files")
    out.append(s)

    sg = r["signals"]
    s = Section("signals", f"Signals (BPF): {sg['count']}")
    if sg["rows"]:
        s.tables.append(_table(["COUNT", "SIGNAL", "SENDER", "TARGET"], sg["rows"],
                               lambda x: (x["count"], x["signal"], x["sender"], x["target"]),
                               sg["more"], left=(1, 2, 3)))
    s.notes = _loss_notes(r, "signals")
    out.append(s)

    s = Section("oom_kills", f"OOM kills (BPF): {len(r['oom_kills'])}")
    if r["oom_kills"]:
        s.tables.append(_table(["PID", "UID", "COMM"], r["oom_kills"],
                               lambda o: (o["pid"], o["uid"], o["comm"]), left=(2,)))
    s.notes = _loss_notes(r, "oom_kills")
    out.append(s)
    return out


def heading(r: dict[str, Any]) -> str:
    return (f"pybpf snapshot of {r['host']} (Linux {r['kernel']}, {r['cpus']} CPUs): "
            f"{r['duration']:.1f} s from {r['started']}")


def table_lines(t: Table) -> list[str]:
    widths = [max([len(h)] + [len(row[i]) for row in t.rows]) for i, h in enumerate(t.headers)]
    last = len(t.headers) - 1

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, (c, w) in enumerate(zip(cells, widths, strict=True)):
            if i in t.right:
                parts.append(c.rjust(w))
            else:
                parts.append(c if i == last else c.ljust(w))
        return "  ".join(parts).rstrip()

    out = [line(t.headers)] + [line(row) for row in t.rows]
    if t.more:
        out.append(f"... and {t.more} more")
    return out


def render_text(r: dict[str, Any]) -> str:
    out = [heading(r)]
    for s in sections(r):
        out += ["", f"== {s.title} " + "=" * max(3, 76 - len(s.title))]
        out += s.lines
        for i, t in enumerate(s.tables):
            if i or s.lines:
                out.append("")
            out += table_lines(t)
        for caption, buckets in s.hists:
            if caption:
                out.append(caption)
            out += log2_lines(buckets, "usecs")
            out.append("")
        out += [f"(note: {n})" for n in s.notes]
    return "\n".join(out) + "\n"
