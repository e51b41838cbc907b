"""Drop UDP datagrams to one port with XDP, before the kernel's network stack sees them, and
count what was dropped (IPv4 and IPv6, one optional VLAN tag not handled: plain frames).

    sudo python examples/xdp_drop.py IFACE PORT [SECONDS]

The program is built inside a function, so importing this file creates nothing; the port is
a compile-time constant of the program.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from pybpf import bpf, maps, net, u32, u64


def build(port: int) -> tuple[Any, Any]:
    """The XDP program dropping UDP to `port`, and its counters: [0] packets dropped,
    [1] IP bytes dropped."""
    dropped = maps.PerCPUArray(key=u32, value=u64, max_entries=2, name="dropped")

    @bpf.xdp
    def xdp_drop(ctx):
        eth = net.eth(ctx)
        if not eth:
            return net.XDP_PASS
        if eth.proto == net.htons(net.ETH_P_IP):
            ip = net.ipv4(ctx, eth)
            if not ip or ip.protocol != net.IPPROTO_UDP:
                return net.XDP_PASS
            udp = net.udp(ctx, ip)
            size = u32(net.ntohs(ip.tot_len))
        elif eth.proto == net.htons(net.ETH_P_IPV6):
            ip6 = net.ipv6(ctx, eth)
            if not ip6 or ip6.nexthdr != net.IPPROTO_UDP:
                return net.XDP_PASS
            udp = net.udp(ctx, ip6)
            size = 40 + u32(net.ntohs(ip6.payload_len))
        else:
            return net.XDP_PASS
        if udp and udp.dest == net.htons(port):
            dropped[0] += 1
            dropped[1] += size
            return net.XDP_DROP
        return net.XDP_PASS

    return xdp_drop, dropped


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    iface, port = sys.argv[1], int(sys.argv[2])
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10
    prog, dropped = build(port)
    try:
        with prog.attach(iface):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(1)
                print(f"dropped {dropped.sum(0)} packets, {dropped.sum(1)} bytes "
                      f"to udp port {port}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        prog.close()
        dropped.close()


if __name__ == "__main__":
    main()
