"""`pybpf pktcount`: packets and bytes per IP protocol and direction with a socket filter on a
packet socket (the kernel's samples/bpf sockex1 idea). The filter keeps nothing (returns 0),
so the socket only counts; it sees every interface of the namespace, or one with --iface."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.cli_support.signals import install_signals
from pybpf.netprogs.common import add_loop_arguments, human, proto_name, run_loop

HELP = "packets and bytes per IP protocol, in and out (socket filter, like sockex1)"
ETH_P_ALL = 0x0003
FAMILIES = ("IPv4", "IPv6", "non-IP")
DIRECTIONS = ("in", "out")
SLOTS = 256 * len(FAMILIES)  # key = direction * SLOTS + family * 256 + protocol


def build_program(pkts: Any, nbytes: Any) -> Any:
    from pybpf import bpf, net, u32

    @bpf.socket_filter
    def pktcount(ctx):  # noqa: ANN001, ANN202 - restricted Python
        key = 512
        if ctx.protocol == net.htons(net.ETH_P_IP):
            key = net.load_u8(ctx, 23)
        elif ctx.protocol == net.htons(net.ETH_P_IPV6):
            key = 256 + u32(net.load_u8(ctx, 20))  # u32: a literal takes the u8 type
        if ctx.pkt_type == 4:  # PACKET_OUTGOING
            key += 768
        pkts[key] += 1
        nbytes[key] += ctx.len
        return 0

    return pktcount


class PktCount:
    """The counters, the socket filter and its packet socket. `counts()` gives
    {(family, protocol, direction): (packets, bytes)}."""

    def __init__(self, iface: str | None = None) -> None:
        from pybpf import maps, u32, u64

        n = SLOTS * len(DIRECTIONS)
        self.pkts = maps.PerCPUArray(key=u32, value=u64, max_entries=n, name="pkts")
        self.nbytes = maps.PerCPUArray(key=u32, value=u64, max_entries=n, name="bytes")
        self.program = build_program(self.pkts, self.nbytes)
        self.sock: socket.socket | None = None
        self.attachment: Any = None
        self.iface = iface

    def attach(self) -> Any:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            # attach before bind: no packet reaches the socket unfiltered
            self.attachment = self.program.attach(self.sock)
            if self.iface:
                self.sock.bind((self.iface, 0))
        except BaseException:
            self.close()
            raise
        return self.attachment

    def counts(self) -> dict[tuple[str, int, str], tuple[int, int]]:
        out = {}
        pk = [sum(v) for _, v in self.pkts.items()]
        by = [sum(v) for _, v in self.nbytes.items()]
        for key, p in enumerate(pk):
            if p:
                direction, rest = divmod(key, SLOTS)
                fam, proto = divmod(rest, 256)
                out[(FAMILIES[fam], proto, DIRECTIONS[direction])] = (p, by[key])
        return out

    def close(self) -> None:
        if self.attachment is not None:
            self.attachment.close()
            self.attachment = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.program.close()
        self.pkts.close()
        self.nbytes.close()

    def __enter__(self) -> PktCount:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def label(family: str, proto: int) -> str:
    return "non-IP" if family == "non-IP" else f"{proto_name(proto)}/{family}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iface", metavar="IFACE", help="only this interface (default: all)")
    add_loop_arguments(p)


def run(args: argparse.Namespace) -> int:
    install_signals()  # before anything is attached: a signal always cleans up
    pc = PktCount(args.iface)
    try:
        pc.attach()

        def ready() -> None:
            out = sys.stderr if args.json else sys.stdout
            print(f"Counting packets on {args.iface or 'all interfaces'}. Hit Ctrl-C to end.",
                  file=out, flush=True)

        prev: dict[tuple[str, int, str], tuple[int, int]] = {}

        def tick(elapsed: float, last: bool) -> None:
            nonlocal prev
            now = pc.counts()
            rows = []
            for key in sorted(now, key=lambda k: (FAMILIES.index(k[0]), k[1], k[2])):
                (p, b), (p0, b0) = now[key], prev.get(key, (0, 0))
                rows.append({"protocol": label(key[0], key[1]), "direction": key[2],
                             "packets": p, "bytes": b, "pps": (p - p0) / elapsed,
                             "bps": (b - b0) / elapsed})
            prev = now
            if args.json:
                print(json.dumps({"time": hms(), "rows": rows}), flush=True)
                return
            print(f"{hms()} {'PROTOCOL':<12} {'DIR':<4} {'PKTS/s':>8} {'BYTES/s':>8} "
                  f"{'PACKETS':>10} {'BYTES':>12}")
            for r in rows:
                print(f"{'':8} {r['protocol']:<12} {r['direction']:<4} {human(r['pps']):>8} "
                      f"{human(r['bps']):>8} {r['packets']:>10} {r['bytes']:>12}")
            if not rows:
                print(f"{'':8} (no packets yet)")
            print(flush=True)

        run_loop(tick, args.interval, args.duration, ready)
    finally:
        pc.close()
    return 0
