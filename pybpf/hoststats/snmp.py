"""sar -n TCP and -n ETCP from /proc/net/snmp's Tcp counters: connections opened actively
and passively, segments in and out, failed attempts, resets, retransmitted segments and bad
segments, per second, and the share of segments sent that were retransmits."""

from __future__ import annotations

from typing import Any

from pybpf.hoststats._read import rate, text

RATES = {  # sar's column -> the Tcp counter
    "active_per_s": "ActiveOpens", "passive_per_s": "PassiveOpens",
    "iseg_per_s": "InSegs", "oseg_per_s": "OutSegs",
    "atmptf_per_s": "AttemptFails", "estres_per_s": "EstabResets",
    "retrans_per_s": "RetransSegs", "isegerr_per_s": "InErrs", "orsts_per_s": "OutRsts",
}


def parse(snmp: str) -> dict[str, dict[str, int]]:
    """{"Tcp": {"ActiveOpens": n, ...}, "Ip": {...}, ...}: the file pairs a line of names
    with a line of values under the same prefix."""
    out: dict[str, dict[str, int]] = {}
    names: dict[str, list[str]] = {}
    for line in snmp.splitlines():
        proto, sep, rest = line.partition(":")
        if not sep:
            continue
        f = rest.split()
        if proto not in names:
            names[proto] = f
            continue
        try:
            out[proto] = dict(zip(names.pop(proto), (int(x) for x in f), strict=False))
        except ValueError:
            names.pop(proto, None)
    return out


def read() -> dict[str, dict[str, int]]:
    return parse(text("/proc/net/snmp"))


def delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
          seconds: float) -> dict[str, Any]:
    b, a = before.get("Tcp", {}), after.get("Tcp", {})
    out: dict[str, Any] = {}
    for col, counter in RATES.items():
        out[col] = round(rate(a.get(counter, 0), b.get(counter, 0), seconds), 1)
    out["retrans"] = max(a.get("RetransSegs", 0) - b.get("RetransSegs", 0), 0)
    out["oseg"] = max(a.get("OutSegs", 0) - b.get("OutSegs", 0), 0)
    out["retrans_pct"] = round(100.0 * out["retrans"] / out["oseg"], 2) if out["oseg"] else 0.0
    out["established"] = a.get("CurrEstab", 0)
    return out
