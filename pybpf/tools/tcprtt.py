"""tcprtt: the smoothed round-trip time of established TCP connections as a log2 histogram,
taken each time a segment is received (tracepoint tcp:tcp_probe, in tcp_rcv_established,
where bcc's tcprtt puts its kprobe), as bcc's tcprtt prints it. The port, address and family
filters are applied in the kernel; -b/-B keep one histogram per local/remote address."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.session import Session
from pybpf.tools import histograms, runner, tcp_options

HELP = "summarize TCP RTT as a histogram"
NEEDS = ("tp:tcp:tcp_probe",)
EXAMPLES = (
    ("", "summarize TCP RTT"),
    ("-i 1 -d 10", "print 1 second summaries, for 10 seconds"),
    ("-m -T", "summarize in millisecond, and timestamps"),
    ("-p 80", "filter for local port"),
    ("-P 80", "filter for remote port"),
    ("-a 127.0.0.1", "filter for local address"),
    ("-A 127.0.0.1", "filter for remote address"),
    ("-b", "show sockets histogram by local address"),
    ("-B", "show sockets histogram by remote address"),
    ("-e", "show extension summary(average)"),
    ("-4", "trace IPv4 family only"),
    ("-6", "trace IPv6 family only"),
)

_port = argtypes.ranged("a port", 1, 65535)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IPv4 or IPv6 address: {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--interval", type=positive_float, help="summary interval, seconds")
    p.add_argument("-d", "--duration", type=positive_float,
                   help="total duration of trace, seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-p", "--lport", type=_port, help="filter for local port")
    p.add_argument("-P", "--rport", type=_port, help="filter for remote port")
    p.add_argument("-a", "--laddr", type=_address, help="filter for local address")
    p.add_argument("-A", "--raddr", type=_address, help="filter for remote address")
    by = p.add_mutually_exclusive_group()
    by.add_argument("-b", "--byladdr", action="store_true",
                    help="show sockets histogram by local address")
    by.add_argument("-B", "--byraddr", action="store_true",
                    help="show sockets histogram by remote address")
    p.add_argument("-e", "--extension", action="store_true",
                   help="show extension summary(average)")
    tcp_options.add_family_arguments(p)


def _words(addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> tuple[int, int, int]:
    """(family, hi, lo) as the BPF side reads an address: an IPv4 address as its 4 bytes in
    memory order, an IPv6 one as two 8-byte words in memory order; (0, 0, 0) for none."""
    if addr is None:
        return 0, 0, 0
    raw = addr.packed
    if addr.version == 4:
        return socket.AF_INET, int.from_bytes(raw, "little"), 0
    return socket.AF_INET6, int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")


def _v6_offsets() -> tuple[int, int]:
    from pybpf.tools.sock_events import _v6_offsets as offsets

    return offsets()


def build(lport: int = 0, rport: int = 0, laddr: Any = None, raddr: Any = None,
          family_only: int = 0, by: str = "", milliseconds: bool = False,
          extension: bool = False) -> tuple[Session, Any, Any]:
    """The tcp_probe program, `dist` {(family, hi, lo, log2 bucket): count} (the address of
    -b/-B, else zeros) and `lat` {(family, hi, lo): (total, count)} for -e's averages."""
    from pybpf import bpf, cast, log2_bucket, maps, u32, u64

    class Lat(bpf.Struct):
        total: u64
        count: u64

    s = Session()
    dist = s.map(maps.Hash(key=(u32, u64, u64, u64), value=u64, max_entries=10240,
                           name="rtt_dist"))
    lat = s.map(maps.Hash(key=(u32, u64, u64), value=Lat, max_entries=10240, name="rtt_lat"))
    d6_off, s6_off = _v6_offsets()
    lfam, lhi, llo = _words(laddr)
    rfam, rhi, rlo = _words(raddr)
    by_local = by == "l"
    by_remote = by == "r"
    div = 1000 if milliseconds else 1

    @bpf.inline
    def word(addr: u64) -> u64:
        # 8 bytes of kernel memory at addr (the first pointer of a struct llist_node there)
        return u64(cast(addr, "struct llist_node").next)

    @bpf.tracepoint("tcp:tcp_probe")
    def tcprtt_probe(ctx):
        fam = u32(ctx.family)
        if family_only and fam != family_only:
            return 0
        if lport and u32(ctx.sport) != lport:
            return 0
        if rport and u32(ctx.dport) != rport:
            return 0
        sk = cast(ctx.skaddr, "struct sock")
        s_hi = u64(0)
        s_lo = u64(0)
        d_hi = u64(0)
        d_lo = u64(0)
        if fam == 10:
            base = u64(ctx.skaddr)
            s_hi = word(base + s6_off)
            s_lo = word(base + s6_off + 8)
            d_hi = word(base + d6_off)
            d_lo = word(base + d6_off + 8)
        else:
            s_hi = u64(u32(sk.__sk_common.skc_rcv_saddr))
            d_hi = u64(u32(sk.__sk_common.skc_daddr))
        if lfam and (fam != lfam or s_hi != lhi or s_lo != llo):
            return 0
        if rfam and (fam != rfam or d_hi != rhi or d_lo != rlo):
            return 0
        srtt = u64(ctx.srtt) // div
        kf = u32(0)
        k_hi = u64(0)
        k_lo = u64(0)
        if by_local:
            kf = fam
            k_hi = s_hi
            k_lo = s_lo
        if by_remote:
            kf = fam
            k_hi = d_hi
            k_lo = d_lo
        dist[kf, k_hi, k_lo, log2_bucket(srtt)] += 1
        if extension:
            lat[kf, k_hi, k_lo].total += srtt
            lat[kf, k_hi, k_lo].count += 1
        return 0

    s.program(tcprtt_probe)
    return s, dist, lat


def address_text(key: tuple[int, int, int]) -> str:
    """bcc's section text: the address, or "*******" for all addresses."""
    fam, hi, lo = key
    if fam == socket.AF_INET6:
        return str(ipaddress.IPv6Address(hi.to_bytes(8, "little") + lo.to_bytes(8, "little")))
    if fam == socket.AF_INET:
        return str(ipaddress.IPv4Address(hi.to_bytes(4, "little")))
    return "*******"


def run(args: argparse.Namespace) -> int:
    by = "l" if args.byladdr else "r" if args.byraddr else ""
    session, dist, lat = build(args.lport or 0, args.rport or 0, args.laddr, args.raddr,
                               tcp_options.family_of(args), by, args.milliseconds,
                               args.extension)
    unit = "msecs" if args.milliseconds else "usecs"
    title = "Local Address" if by == "l" else "Remote Address" if by == "r" else \
        "All Addresses"
    interval = args.interval or args.duration or runner.FOREVER

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print("Tracing TCP RTT... Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per: dict[tuple[int, int, int], dict[int, int]] = {}
        for (fam, hi, lo, bucket), n in dist.items():
            b = per.setdefault((fam, hi, lo), {})
            b[bucket] = b.get(bucket, 0) + n
        dist.clear()
        avg: dict[tuple[int, int, int], int] = {}
        if args.extension:
            for key, v in lat.items():
                avg[tuple(key)] = v.total // v.count if v.count else 0
            lat.clear()

        def heading(key: tuple[int, int, int]) -> str:
            text = f"{title} = {address_text(key)}"
            return f"{text} [AVG {avg.get(key, 0)}]" if args.extension else text

        if args.json:
            def before(key: tuple[int, int, int]) -> dict[str, Any]:
                if by == "l":
                    return {"laddr": address_text(key)}
                if by == "r":
                    return {"raddr": address_text(key)}
                return {}

            def after(key: tuple[int, int, int]) -> dict[str, Any]:
                return {"avg": avg.get(key, 0)} if args.extension else {}

            histograms.emit_keyed(per, unit, before, after)
            return
        histograms.print_keyed(per, unit, heading, args.timestamp)

    runner.run_intervals(session, tick, interval, runner.FOREVER, args.duration, ready)
    return 0
