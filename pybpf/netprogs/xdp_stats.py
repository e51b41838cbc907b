"""`pybpf xdp-stats IFACE`: packets and bytes per protocol and XDP action, per second.

An XDP program classifies every packet (ARP, IPv4/IPv6 by transport, truncated) and counts it
with the action it returns: XDP_PASS, or XDP_DROP for truncated packets with
`--drop-truncated`. A packet is truncated when a header it announces does not fit: Ethernet,
the VLAN tag, IPv4 (20 bytes or an IHL below 5), IPv6, or the TCP/UDP/ICMP header of an
unfragmented (or first-fragment) packet. Bytes are the L2 header plus the IP length (ARP: 28)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.cli_support.signals import install_signals
from pybpf.netprogs.common import XDP_ACTIONS, add_loop_arguments, human, run_loop

HELP = "packets and bytes per protocol and XDP action, per second"
CLASSES = ("other", "ARP", "IPv4 other", "ICMP", "TCP/IPv4", "UDP/IPv4", "IPv6 other",
           "ICMPv6", "TCP/IPv6", "UDP/IPv6", "truncated")
(C_OTHER, C_ARP, C_IP4, C_ICMP, C_TCP4, C_UDP4, C_IP6, C_ICMP6, C_TCP6, C_UDP6,
 C_TRUNC) = range(len(CLASSES))
SLOTS = 8  # key = class * SLOTS + action


def build_program(pkts: Any, nbytes: Any, drop_truncated: bool = False) -> Any:
    from pybpf import bpf, net

    truncated_action = net.XDP_DROP if drop_truncated else net.XDP_PASS

    @bpf.xdp
    def xdp_stats(ctx):  # noqa: ANN001, ANN202 - restricted Python
        cls = 0
        size = 0
        eth = net.eth(ctx)
        if not eth:
            cls = 10
        else:
            proto = eth.proto
            l2 = 14
            if proto == net.htons(net.ETH_P_8021Q) or proto == net.htons(net.ETH_P_8021AD):
                vl = net.vlan(ctx, eth)
                proto = vl.proto
                l2 = 18
                ip = net.ipv4(ctx, vl)
                ip6 = net.ipv6(ctx, vl)
                if not vl:
                    cls = 10
                    proto = 0
            else:
                ip = net.ipv4(ctx, eth)
                ip6 = net.ipv6(ctx, eth)
            size = l2
            if proto == net.htons(net.ETH_P_ARP):
                cls = 1
                size = l2 + 28
            elif proto == net.htons(net.ETH_P_IP):
                if not ip or ip.ihl < 5:
                    cls = 10
                else:
                    size = l2 + net.ntohs(ip.tot_len)
                    cls = 2
                    first = (ip.frag_off & net.htons(net.IP_OFFSET)) == 0
                    if ip.protocol == net.IPPROTO_ICMP:
                        cls = 3
                        if first and not net.icmp(ctx, ip):
                            cls = 10
                    elif ip.protocol == net.IPPROTO_TCP:
                        cls = 4
                        if first and not net.tcp(ctx, ip):
                            cls = 10
                    elif ip.protocol == net.IPPROTO_UDP:
                        cls = 5
                        if first and not net.udp(ctx, ip):
                            cls = 10
            elif proto == net.htons(net.ETH_P_IPV6):
                if not ip6:
                    cls = 10
                else:
                    size = l2 + 40 + net.ntohs(ip6.payload_len)
                    cls = 6
                    if ip6.nexthdr == net.IPPROTO_ICMPV6:
                        cls = 7
                        if not net.icmp(ctx, ip6):
                            cls = 10
                    elif ip6.nexthdr == net.IPPROTO_TCP:
                        cls = 8
                        if not net.tcp(ctx, ip6):
                            cls = 10
                    elif ip6.nexthdr == net.IPPROTO_UDP:
                        cls = 9
                        if not net.udp(ctx, ip6):
                            cls = 10
        action = net.XDP_PASS
        if cls == 10:
            action = truncated_action
        key = cls * 8 + action
        pkts[key] += 1
        nbytes[key] += size
        return action

    return xdp_stats


class XdpStats:
    """The counters and the program; `counts()` gives {(class, action): (packets, bytes)}."""

    def __init__(self, drop_truncated: bool = False) -> None:
        from pybpf import maps, u32, u64

        n = len(CLASSES) * SLOTS
        self.pkts = maps.PerCPUArray(key=u32, value=u64, max_entries=n, name="pkts")
        self.nbytes = maps.PerCPUArray(key=u32, value=u64, max_entries=n, name="bytes")
        self.program = build_program(self.pkts, self.nbytes, drop_truncated)
        self.attachment: Any = None

    def attach(self, iface: str, mode: str = "auto") -> Any:
        self.attachment = self.program.attach(iface, mode=mode)
        return self.attachment

    def counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        out = {}
        for key, (p, b) in enumerate(zip(_sums(self.pkts), _sums(self.nbytes), strict=True)):
            cls, action = divmod(key, SLOTS)
            if p and action < len(XDP_ACTIONS):
                out[(CLASSES[cls], XDP_ACTIONS[action])] = (p, b)
        return out

    def close(self) -> None:
        if self.attachment is not None:
            self.attachment.close()
            self.attachment = None
        self.program.close()
        self.pkts.close()
        self.nbytes.close()

    def __enter__(self) -> XdpStats:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sums(m: Any) -> list[int]:
    return [sum(v) for _, v in m.items()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("iface", metavar="IFACE", help="network interface")
    p.add_argument("--drop-truncated", action="store_true",
                   help="drop packets whose headers are cut short (XDP_DROP)")
    p.add_argument("--mode", choices=("auto", "native", "skb"), default="auto",
                   help="XDP mode (default auto: native when the driver supports it)")
    add_loop_arguments(p)


def run(args: argparse.Namespace) -> int:
    install_signals()  # before anything is attached: a signal always cleans up
    st = XdpStats(args.drop_truncated)
    try:
        st.attach(args.iface, args.mode)

        def ready() -> None:
            out = sys.stderr if args.json else sys.stdout
            print(f"Counting on {args.iface} (XDP {args.mode} mode). Hit Ctrl-C to end.",
                  file=out, flush=True)

        prev: dict[tuple[str, str], tuple[int, int]] = {}

        def tick(elapsed: float, last: bool) -> None:
            nonlocal prev
            now = st.counts()
            rows = []
            for (cls, action), (p, b) in sorted(now.items(),
                                                key=lambda kv: CLASSES.index(kv[0][0])):
                p0, b0 = prev.get((cls, action), (0, 0))
                rows.append({"protocol": cls, "action": action, "packets": p, "bytes": b,
                             "pps": (p - p0) / elapsed, "bps": (b - b0) / elapsed})
            prev = now
            if args.json:
                print(json.dumps({"time": hms(), "iface": args.iface, "rows": rows}),
                      flush=True)
                return
            print(f"{hms()} {'PROTOCOL':<11} {'ACTION':<8} {'PKTS/s':>8} {'BYTES/s':>8} "
                  f"{'PACKETS':>10} {'BYTES':>12}")
            for r in rows:
                print(f"{'':8} {r['protocol']:<11} {r['action']:<8} {human(r['pps']):>8} "
                      f"{human(r['bps']):>8} {r['packets']:>10} {r['bytes']:>12}")
            if not rows:
                print(f"{'':8} (no packets yet)")
            print(flush=True)

        run_loop(tick, args.interval, args.duration, ready)
    finally:
        st.close()
    return 0
