"""Count outgoing packets and bytes per IP protocol with a tc (tcx) egress program; packets
are never changed (TC_ACT_OK).

    sudo python examples/tc_egress_counter.py IFACE [SECONDS]
"""

from __future__ import annotations

import sys
import time
from typing import Any

from pybpf import bpf, maps, net, u32, u64

NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}


def build() -> tuple[Any, Any, Any]:
    """The tc program and its counters per IP protocol (IPv4 protocol or IPv6 next header):
    packets and bytes (skb->len: the whole frame)."""
    pkts = maps.PerCPUArray(key=u32, value=u64, max_entries=256, name="pkts")
    nbytes = maps.PerCPUArray(key=u32, value=u64, max_entries=256, name="bytes")

    @bpf.tc
    def egress_counter(ctx):
        eth = net.eth(ctx)
        if not eth:
            return net.TC_ACT_OK
        proto = 256
        if eth.proto == net.htons(net.ETH_P_IP):
            ip = net.ipv4(ctx, eth)
            if ip:
                proto = ip.protocol
        elif eth.proto == net.htons(net.ETH_P_IPV6):
            ip6 = net.ipv6(ctx, eth)
            if ip6:
                proto = ip6.nexthdr
        if proto < 256:
            pkts[proto] += 1
            nbytes[proto] += ctx.len
        return net.TC_ACT_OK

    return egress_counter, pkts, nbytes


def counts(pkts: Any, nbytes: Any) -> dict[int, tuple[int, int]]:
    """{protocol: (packets, bytes)} for the protocols seen."""
    p = [sum(v) for _, v in pkts.items()]
    b = [sum(v) for _, v in nbytes.items()]
    return {i: (p[i], b[i]) for i in range(256) if p[i]}


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    iface = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    prog, pkts, nbytes = build()
    try:
        with prog.attach(iface, direction="egress"):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(1)
                line = "  ".join(f"{NAMES.get(p, p)}: {n} pkts {b} bytes"
                                 for p, (n, b) in sorted(counts(pkts, nbytes).items()))
                print(line or "(no IP packets yet)", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        prog.close()
        pkts.close()
        nbytes.close()


if __name__ == "__main__":
    main()
