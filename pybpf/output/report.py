"""The text of `pybpf snapshot`: one readable page from the snapshot's JSON-able dict."""

from __future__ import annotations

from typing import Any

from pybpf.output.hist import log2_lines


def buckets_of(h: dict[str, Any]) -> dict[int, int]:
    """A histogram in JSON form (bcc bounds) back to pybpf's log2 buckets."""
    return {max(b["low"].bit_length(), 1): b["count"] for b in h.get("buckets", [])}


def _section(title: str) -> list[str]:
    return ["", f"== {title} " + "=" * max(3, 76 - len(title))]


def render_text(r: dict[str, Any], limit: int = 15) -> str:
    out = [f"pybpf snapshot of {r['host']} (Linux {r['kernel']}): {r['duration']:.1f} s "
           f"from {r['started']}"]

    out += _section("Top syscalls by process")
    procs = r["syscalls"]["by_process"]
    if procs:
        out.append(f"{'PID':<7} {'COMM':<16} {'SYSCALLS':>9}  TOP SYSCALLS")
        for p in procs[:limit]:
            top = ", ".join(f"{s['syscall']} {s['count']}" for s in p["top"][:4])
            out.append(f"{p['pid']:<7} {p['comm']:<16} {p['count']:>9}  {top}")
        out.append(f"({r['syscalls']['total']} syscalls in all)")
    else:
        out.append("(none)")

    execs, exits = r["processes"]["execs"], r["processes"]["exits"]
    fails = r["processes"].get("exec_failures", 0)
    out += _section(f"New processes: {len(execs)} execs ({fails} failed), {len(exits)} exits")
    if execs:
        out.append(f"{'TIME(s)':<8} {'COMM':<16} {'PID':<7} {'PPID':<7} {'RET':>3} ARGS")
        for e in execs[:limit]:
            out.append(f"{e['ts']:<8.3f} {e['comm']:<16} {e['pid']:<7} {e['ppid']:<7} "
                       f"{e['ret']:>3} {' '.join(e['args'])}")
        if len(execs) > limit:
            out.append(f"... and {len(execs) - limit} more")
    failed = [e for e in exits if e["exit_code"] or e["signal"]]
    if exits:
        out.append("")
        out.append(f"exits: {len(exits)}, non-zero or killed: {len(failed)}")
        for e in failed[:limit]:
            out.append(f"  {e['comm']:<16} {e['pid']:<7} age {e['age']:.2f}s  "
                       f"{e['description']}")

    out += _section("Files opened most")
    files = r["files"]
    if files:
        out.append(f"{'OPENS':>6} {'ERRORS':>6} {'PROCESS':<16} PATH")
        for f in files[:limit]:
            out.append(f"{f['opens']:>6} {f['errors']:>6} {f['comm']:<16} {f['path']}")
    else:
        out.append("(none)")

    out += _section("Block I/O latency")
    if r["block_io"]:
        for d in r["block_io"]:
            out.append(f"disk = {d['disk']}  ({d['count']} I/Os, avg "
                       f"{d['avg_usecs']:.0f} usecs)")
            out += log2_lines(buckets_of(d["hist"]), "usecs")
            out.append("")
    else:
        out.append("(no block I/O)")

    out += _section("Run queue latency")
    rq = r["runqueue"]
    if rq["buckets"]:
        out += log2_lines(buckets_of(rq), "usecs")
    else:
        out.append("(none)")

    tcp = r["tcp"]
    out += _section(f"TCP: {tcp['opened']} opened, {tcp['closed']} closed, "
                    f"{tcp['retransmits']} retransmits")
    if tcp["sessions"]:
        out.append(f"{'PID':<7} {'COMM':<12} {'LADDR':<15} {'LPORT':<5} {'RADDR':<15} "
                   f"{'RPORT':<5} {'TX_KB':>6} {'RX_KB':>6} MS")
        for s in tcp["sessions"][:limit]:
            out.append(f"{s['pid']:<7} {s['comm'][:12]:<12} {s['laddr']:<15} {s['lport']:<5} "
                       f"{s['raddr']:<15} {s['rport']:<5} {s['tx_kb']:>6} {s['rx_kb']:>6} "
                       f"{s['ms']:.2f}")
    for rt in tcp["retransmit_targets"][:limit]:
        out.append(f"retransmits to {rt['daddr']}:{rt['dport']}: {rt['count']}")

    sigs = r["signals"]
    out += _section(f"Signals: {sum(s['count'] for s in sigs)}")
    for s in sigs[:limit]:
        out.append(f"{s['count']:>6} {s['signal']:<10} {s['sender']:<16} -> {s['target']}")

    ooms = r["oom_kills"]
    out += _section(f"OOM kills: {len(ooms)}")
    for o in ooms:
        out.append(f"{o['comm']} (pid {o['pid']}, uid {o['uid']})")

    if r.get("lost_events"):
        out.append("")
        out.append(f"(note: {r['lost_events']} events could not be decoded or were dropped)")
    return "\n".join(out) + "\n"
