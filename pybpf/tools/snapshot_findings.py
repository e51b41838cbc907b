"""The summary at the top of `pybpf snapshot`: what looks wrong, by the USE method
(utilisation, saturation, errors) and a few outliers, each with the numbers that show it. The
thresholds are rules of thumb for a first look, not alarms."""

from __future__ import annotations

from typing import Any

WARNING, CRITICAL, NOTE = "warning", "critical", "note"


def _f(severity: str, section: str, title: str, evidence: str) -> dict[str, str]:
    return {"severity": severity, "section": section, "title": title, "evidence": evidence}


def _share_at_least(hist: dict[str, Any], low: int) -> tuple[int, int]:
    """(events in buckets starting at `low` or above, all events) of a log2 histogram."""
    total = sum(b["count"] for b in hist.get("buckets", []))
    slow = sum(b["count"] for b in hist.get("buckets", []) if b["low"] >= low)
    return slow, total


def findings(r: dict[str, Any]) -> list[dict[str, str]]:
    h = r["host_stats"]
    out: list[dict[str, str]] = []
    cpus = r["cpus"]
    load = h["load"]
    if load["load1"] > cpus:
        out.append(_f(WARNING, "load", "load above the CPU count",
                      f"load average {load['load1']:.2f} (1 min) on {cpus} CPUs"))
    cpu = h["cpu"]
    whole = cpu.get("all", {})
    if whole.get("busy", 0) >= 90:
        out.append(_f(WARNING, "cpu", "CPUs saturated",
                      f"{whole['busy']:.0f}% busy across {cpus} CPUs "
                      f"(user {whole['user']:.0f}%, system {whole['system']:.0f}%)"))
    if whole.get("iowait", 0) >= 20:
        out.append(_f(WARNING, "cpu", "CPUs waiting on I/O",
                      f"{whole['iowait']:.0f}% iowait"))
    if whole.get("steal", 0) >= 10:
        out.append(_f(WARNING, "cpu", "CPU time stolen by the hypervisor",
                      f"{whole['steal']:.0f}% steal"))
    hot = [c for c in cpu["per_cpu"] if c["busy"] >= 90]
    if hot and len(hot) < len(cpu["per_cpu"]) and whole.get("busy", 0) < 90:
        out.append(_f(NOTE, "cpu", "some CPUs busy, others not",
                      ", ".join(f"CPU {c['cpu']} {c['busy']:.0f}%" for c in hot)))
    if cpu["running"] > cpus:
        out.append(_f(WARNING, "cpu", "run queue longer than the CPU count",
                      f"{cpu['running']} runnable tasks on {cpus} CPUs"))
    slow, total = _share_at_least(r["runqueue"], 1024)
    if total and slow / total >= 0.05:
        out.append(_f(WARNING, "runqueue", "tasks wait for a CPU",
                      f"{slow} of {total} wakeups ({100 * slow / total:.0f}%) waited 1 ms "
                      "or more to run"))
    for p in h["processes_cpu"]["rows"][:3]:
        if p["cpu_pct"] >= 90:
            out.append(_f(NOTE, "processes_cpu", f"{p['comm']} (pid {p['pid']}) keeps a CPU "
                          "busy", f"{p['cpu_pct']:.0f}% of a CPU (user {p['usr_pct']:.0f}%, "
                          f"system {p['sys_pct']:.0f}%)"))
    mem = h["memory"]
    if mem["total_mib"] and mem["available_mib"] < mem["total_mib"] * 0.1:
        out.append(_f(WARNING, "memory", "memory nearly exhausted",
                      f"{mem['available_mib']} MiB available of {mem['total_mib']} MiB"))
    if mem["pswpin_per_s"] or mem["pswpout_per_s"]:
        out.append(_f(WARNING, "memory", "swapping",
                      f"{mem['pswpin_per_s']:.0f} pages/s in, {mem['pswpout_per_s']:.0f} "
                      "pages/s out"))
    if mem["pgscan_direct_per_s"]:
        out.append(_f(WARNING, "memory", "direct reclaim (allocations stall)",
                      f"{mem['pgscan_direct_per_s']:.0f} pages/s scanned directly"))
    if r["oom_kills"]:
        out.append(_f(CRITICAL, "oom_kills", "the OOM killer ran",
                      ", ".join(f"{o['comm']} (pid {o['pid']})" for o in r["oom_kills"])))
    for d in h["disks"]:
        if d["util_pct"] >= 60:
            out.append(_f(WARNING, "disks", f"disk {d['disk']} busy",
                          f"{d['util_pct']:.0f}% utilised, {d['r_per_s'] + d['w_per_s']:.0f}"
                          f" IOPS, queue {d['aqu_sz']:.1f}"))
        slowest = max(d["r_await_ms"], d["w_await_ms"])
        if slowest >= 20:
            out.append(_f(WARNING, "disks", f"disk {d['disk']} slow",
                          f"average wait {slowest:.1f} ms (reads {d['r_await_ms']:.1f}, "
                          f"writes {d['w_await_ms']:.1f})"))
    for i in h["interfaces"]:
        if i["errors_per_s"]:
            out.append(_f(WARNING, "interfaces", f"{i['iface']}: errors or drops",
                          f"{i['errors_per_s']:.1f}/s (rx errors {i['rx_errs_per_s']}, "
                          f"tx errors {i['tx_errs_per_s']}, rx drops {i['rx_drop_per_s']}, "
                          f"tx drops {i['tx_drop_per_s']})"))
        if i["ifutil_pct"] is not None and i["ifutil_pct"] >= 80:
            out.append(_f(WARNING, "interfaces", f"{i['iface']} near its link speed",
                          f"{i['ifutil_pct']:.0f}% utilised"))
    tcp = h["tcp"]
    if tcp["retrans"] and (tcp["retrans_pct"] >= 1 or tcp["retrans"] >= 100):
        where = r["tcp"]["retransmit_targets"]["rows"][:3]
        to = "; to " + ", ".join(f"{t['daddr']}:{t['dport']} ({t['count']})" for t in where) \
            if where else ""
        out.append(_f(WARNING, "tcp", "TCP retransmits",
                      f"{tcp['retrans']} segments retransmitted ({tcp['retrans_pct']:.1f}% of "
                      f"{tcp['oseg']} sent){to}"))
    if tcp["atmptf_per_s"] >= 1 or tcp["estres_per_s"] >= 1:
        out.append(_f(NOTE, "tcp", "TCP connections failing or reset",
                      f"{tcp['atmptf_per_s']:.1f} failed attempts/s, {tcp['estres_per_s']:.1f} "
                      "resets of established connections/s"))
    msgs = h["kernel_messages"]
    bad = [m for m in msgs["rows"] if m["level"] <= 3]
    if bad:
        out.append(_f(WARNING, "kernel_messages", "kernel errors logged",
                      f"{len(bad)} at level err or worse, latest: {bad[-1]['message'][:120]}"))
    files = r["files"]
    if files["errors"] >= 100 and files["errors"] * 2 >= files["opens"]:
        out.append(_f(NOTE, "files", "most opens fail",
                      f"{files['errors']} of {files['opens']} opens failed"))
    pr = r["processes"]
    if pr["execs"] >= 10 * max(r["duration"], 1):
        top = pr["by_command"]["rows"][0] if pr["by_command"]["rows"] else None
        out.append(_f(NOTE, "processes", "many short-lived processes",
                      f"{pr['execs']} execs in {r['duration']:.0f} s"
                      + (f", most of them {top['comm']} ({top['count']})" if top else "")))
    for loss in r["losses"]:
        out.append(_f(WARNING, loss["section"], "this report misses events",
                      f"{loss['count']} {loss['what']}: {loss['reason']}"))
    order = {CRITICAL: 0, WARNING: 1, NOTE: 2}
    out.sort(key=lambda f: order[f["severity"]])
    return out
