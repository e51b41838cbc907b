"""sar -n DEV and -n EDEV from /proc/net/dev: per interface, packets and kB per second each
way, and the error, drop, FIFO, frame, collision and carrier counters per second."""

from __future__ import annotations

from typing import Any

from pybpf.hoststats._read import rate, text

# the 16 columns after "NAME:", in the file's order
COLUMNS = ("rx_bytes", "rx_packets", "rx_errs", "rx_drop", "rx_fifo", "rx_frame",
           "rx_compressed", "rx_multicast", "tx_bytes", "tx_packets", "tx_errs", "tx_drop",
           "tx_fifo", "tx_colls", "tx_carrier", "tx_compressed")
ERRORS = ("rx_errs", "tx_errs", "tx_colls", "rx_drop", "tx_drop", "rx_fifo", "tx_fifo",
          "rx_frame", "tx_carrier")


def parse(netdev: str) -> dict[str, dict[str, int]]:
    out = {}
    for line in netdev.splitlines():
        name, sep, rest = line.partition(":")
        f = rest.split()
        if not sep or len(f) < len(COLUMNS) or not f[0].isdigit():
            continue  # the two header lines
        out[name.strip()] = dict(zip(COLUMNS, (int(x) for x in f), strict=False))
    return out


def read() -> dict[str, dict[str, int]]:
    return parse(text("/proc/net/dev"))


def speed_mbps(iface: str) -> int:
    """The link speed from /sys/class/net/IFACE/speed, 0 when unknown (virtual, down)."""
    try:
        return max(int(text(f"/sys/class/net/{iface}/speed").strip() or 0), 0)
    except ValueError:
        return 0


def delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
          seconds: float, speeds: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """One row per interface, busiest first: rxpck/s txpck/s rxkB/s txkB/s %ifutil, and the
    EDEV counters per second plus their sum ("errors_per_s")."""
    out = []
    for name, a in after.items():
        b = before.get(name)
        if b is None:
            continue

        def r(col: str, a: dict[str, int] = a, b: dict[str, int] = b) -> float:
            return rate(a[col], b[col], seconds)

        row: dict[str, Any] = {
            "iface": name,
            "rxpck_per_s": round(r("rx_packets"), 1), "txpck_per_s": round(r("tx_packets"), 1),
            "rxkb_per_s": round(r("rx_bytes") / 1024, 1),
            "txkb_per_s": round(r("tx_bytes") / 1024, 1),
        }
        speed = (speeds or {}).get(name, 0)
        # sar's %ifutil: the busier direction against the link speed (full duplex)
        row["ifutil_pct"] = round(min(100.0, 100.0 * max(r("rx_bytes"), r("tx_bytes")) * 8
                                      / (speed * 1e6)), 1) if speed else None
        for col in ERRORS:
            row[f"{col}_per_s"] = round(r(col), 1)
        row["errors_per_s"] = round(sum(row[f"{c}_per_s"] for c in ERRORS), 1)
        out.append(row)
    out.sort(key=lambda x: (-(x["rxkb_per_s"] + x["txkb_per_s"]), x["iface"]))
    return out
