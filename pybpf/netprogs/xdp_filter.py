"""`pybpf xdp-filter IFACE --drop CIDR|PORT ...`: an XDP drop list with live counters.

A CIDR (IPv4 or IPv6, or a single address) drops packets whose *source* address is in it,
through an LPM trie; a PORT (`53`, `53/udp`, `22/tcp`) drops TCP/UDP packets to that
*destination* port. One 802.1Q/802.1ad tag is looked through; IPv4 fragments after the first
carry no ports and are matched by address only; IPv6 extension headers are not walked (a
packet whose next header is not TCP/UDP is matched by address only). Every packet is counted
against the rule that dropped it, or as passed; bytes are the L2 header plus the IP length."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from dataclasses import dataclass
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.cli_support.signals import install_signals
from pybpf.netprogs.common import add_loop_arguments, human, run_loop

HELP = "drop packets by source CIDR or destination port with XDP, with live counters"
MAX_RULES = 255
PORT_UDP = 65536  # key of a UDP port in the ports array: port + PORT_UDP


@dataclass(frozen=True)
class Rule:
    text: str
    kind: str  # "ipv4", "ipv6" or "port"
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int = 0
    protocols: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.network is not None:
            return f"src {self.network}"
        return f"dport {self.port}/{'+'.join(self.protocols)}"


def parse_rule(text: str) -> Rule:
    """'198.18.0.0/24', '2001:2::/64', '198.18.0.7', '53', '53/udp', '22/tcp' -> Rule."""
    t = text.strip()
    port_part, _, proto = t.partition("/")
    if port_part.isdigit():
        port = int(port_part)
        if not 0 < port < 65536:
            raise argparse.ArgumentTypeError(f"{text!r}: ports are 1..65535")
        protos = ("tcp", "udp") if not proto else (proto.lower(),)
        if protos[0] not in ("tcp", "udp"):
            raise argparse.ArgumentTypeError(f"{text!r}: write PORT, PORT/tcp or PORT/udp")
        return Rule(text, "port", port=port, protocols=protos)
    try:
        net = ipaddress.ip_network(t, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a CIDR (198.18.0.0/24, 2001:2::/64) nor a port (53, "
            "53/udp)") from None
    return Rule(text, f"ipv{net.version}", network=net)


def build_program(v4: Any, v6: Any, ports: Any, pkts: Any, nbytes: Any) -> Any:
    """The XDP program over its maps: rule id (LPM value, ports array value) -> counters."""
    from pybpf import bpf, net, u32

    @bpf.xdp
    def xdp_filter(ctx):  # noqa: ANN001, ANN202 - restricted Python
        eth = net.eth(ctx)
        if not eth:
            return net.XDP_PASS
        proto = eth.proto
        l2 = 14
        if proto == net.htons(net.ETH_P_8021Q) or proto == net.htons(net.ETH_P_8021AD):
            vl = net.vlan(ctx, eth)
            if not vl:
                return net.XDP_PASS
            proto = vl.proto
            l2 = 18
            ip = net.ipv4(ctx, vl)
            ip6 = net.ipv6(ctx, vl)
        else:
            ip = net.ipv4(ctx, eth)
            ip6 = net.ipv6(ctx, eth)
        rule = 0
        size = l2
        if proto == net.htons(net.ETH_P_IP) and ip:
            size = l2 + net.ntohs(ip.tot_len)
            rule = v4.get((32, ip.saddr), 0)
            if rule == 0 and (ip.frag_off & net.htons(net.IP_OFFSET)) == 0:
                if ip.protocol == net.IPPROTO_TCP:
                    tcp = net.tcp(ctx, ip)
                    if tcp:
                        rule = ports.get(u32(net.ntohs(tcp.dest)), 0)
                elif ip.protocol == net.IPPROTO_UDP:
                    udp = net.udp(ctx, ip)
                    if udp:
                        rule = ports.get(u32(net.ntohs(udp.dest)) + 65536, 0)
        elif proto == net.htons(net.ETH_P_IPV6) and ip6:
            size = l2 + 40 + net.ntohs(ip6.payload_len)
            rule = v6.get((128, ip6.saddr), 0)
            if rule == 0:
                if ip6.nexthdr == net.IPPROTO_TCP:
                    tcp6 = net.tcp(ctx, ip6)
                    if tcp6:
                        rule = ports.get(u32(net.ntohs(tcp6.dest)), 0)
                elif ip6.nexthdr == net.IPPROTO_UDP:
                    udp6 = net.udp(ctx, ip6)
                    if udp6:
                        rule = ports.get(u32(net.ntohs(udp6.dest)) + 65536, 0)
        pkts[rule] += 1
        nbytes[rule] += size
        if rule:
            return net.XDP_DROP
        return net.XDP_PASS

    return xdp_filter


class XdpFilter:
    """The drop list's maps and program. `attach(iface)` returns the attachment (close it, or
    close this object, to detach); `counters()` gives {rule id: (packets, bytes)}, rule 0
    being the passed packets."""

    def __init__(self, rules: list[Rule]) -> None:
        from pybpf import maps, u32, u64

        if len(rules) > MAX_RULES:
            raise ValueError(f"at most {MAX_RULES} rules")
        self.rules = list(rules)
        self._maps: list[Any] = []
        try:
            self.v4 = self._map(maps.LPMTrie("ipv4", value=u32, max_entries=MAX_RULES,
                                             name="drop_v4"))
            self.v6 = self._map(maps.LPMTrie("ipv6", value=u32, max_entries=MAX_RULES,
                                             name="drop_v6"))
            self.ports = self._map(maps.Array(key=u32, value=u32, max_entries=2 * PORT_UDP,
                                              name="drop_ports"))
            self.pkts = self._map(maps.PerCPUArray(key=u32, value=u64,
                                                   max_entries=MAX_RULES + 1, name="pkts"))
            self.nbytes = self._map(maps.PerCPUArray(key=u32, value=u64,
                                                     max_entries=MAX_RULES + 1, name="bytes"))
            for rid, r in enumerate(self.rules, 1):
                self._add(rid, r)
            self.program = build_program(self.v4, self.v6, self.ports, self.pkts, self.nbytes)
        except BaseException:
            self.close()
            raise
        self.attachment: Any = None

    def _map(self, m: Any) -> Any:
        self._maps.append(m)
        return m

    def _add(self, rid: int, r: Rule) -> None:
        if r.kind == "ipv4":
            self.v4[r.network] = rid
        elif r.kind == "ipv6":
            self.v6[r.network] = rid
        else:
            for p in r.protocols:
                key = r.port + (PORT_UDP if p == "udp" else 0)
                if not self.ports[key]:  # the first rule for a port counts its drops
                    self.ports[key] = rid

    def attach(self, iface: str, mode: str = "auto") -> Any:
        self.attachment = self.program.attach(iface, mode=mode)
        return self.attachment

    def counters(self) -> dict[int, tuple[int, int]]:
        n = len(self.rules) + 1
        return {i: (self.pkts.sum(i), self.nbytes.sum(i)) for i in range(n)}

    def close(self) -> None:
        if getattr(self, "attachment", None) is not None:
            self.attachment.close()
            self.attachment = None
        prog = getattr(self, "program", None)
        if prog is not None:
            prog.close()
        for m in reversed(self._maps):
            m.close()
        self._maps.clear()

    def __enter__(self) -> XdpFilter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("iface", metavar="IFACE", help="network interface")
    p.add_argument("--drop", type=parse_rule, action="extend", nargs="+", required=True,
                   metavar="CIDR|PORT",
                   help="source network (198.18.0.0/24, 2001:2::/64, an address) or "
                        "destination port (53, 53/udp, 22/tcp) to drop; repeatable")
    p.add_argument("--mode", choices=("auto", "native", "skb"), default="auto",
                   help="XDP mode (default auto: native when the driver supports it)")
    add_loop_arguments(p)


def run(args: argparse.Namespace) -> int:
    install_signals()  # before anything is attached: a signal always cleans up
    flt = XdpFilter(args.drop)
    try:
        flt.attach(args.iface, args.mode)

        def ready() -> None:
            out = sys.stderr if args.json else sys.stdout
            print(f"Dropping on {args.iface} ({len(flt.rules)} rules, XDP {args.mode} mode). "
                  "Hit Ctrl-C to end.", file=out, flush=True)

        labels = ["passed"] + [r.label for r in flt.rules]
        prev = flt.counters()

        def tick(elapsed: float, last: bool) -> None:
            nonlocal prev
            now = flt.counters()
            rows = []
            for rid, label in enumerate(labels):
                (p, b), (p0, b0) = now[rid], prev[rid]
                rows.append({"rule": label, "packets": p, "bytes": b,
                             "pps": (p - p0) / elapsed, "bps": (b - b0) / elapsed})
            prev = now
            if args.json:
                print(json.dumps({"time": hms(), "iface": args.iface, "rules": rows}),
                      flush=True)
                return
            print(f"{hms()} {'RULE':<34} {'PKTS/s':>8} {'BYTES/s':>8} {'PACKETS':>10} "
                  f"{'BYTES':>12}")
            for r in rows:
                print(f"{'':8} {r['rule']:<34} {human(r['pps']):>8} {human(r['bps']):>8} "
                      f"{r['packets']:>10} {r['bytes']:>12}")
            print(flush=True)

        run_loop(tick, args.interval, args.duration, ready)
    finally:
        flt.close()
    return 0
