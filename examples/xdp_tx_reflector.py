"""Answer pings in XDP: an ICMP echo request (IPv4) or ICMPv6 echo request becomes the echo
reply in place (MACs and IPs swapped, type changed, checksum updated incrementally) and goes
back out of the interface it came from with XDP_TX; the kernel's stack never sees it.

    sudo python examples/xdp_tx_reflector.py IFACE [SECONDS]
"""

from __future__ import annotations

import sys
import time
from typing import Any

from pybpf import bpf, maps, net, u32, u64

ICMP_ECHO, ICMP_ECHOREPLY = 8, 0
ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY = 128, 129


def build() -> tuple[Any, Any]:
    """The reflector and its counters: [0] IPv4 replies, [1] IPv6 replies."""
    replies = maps.PerCPUArray(key=u32, value=u64, max_entries=2, name="replies")

    @bpf.xdp
    def reflector(ctx):
        eth = net.eth(ctx)
        if not eth:
            return net.XDP_PASS
        if eth.proto == net.htons(net.ETH_P_IP):
            ip = net.ipv4(ctx, eth)
            if not ip or ip.protocol != net.IPPROTO_ICMP:
                return net.XDP_PASS
            icmp = net.icmp(ctx, ip)
            if not icmp or icmp.type != 8:
                return net.XDP_PASS
            icmp.type = 0
            # one's complement update for the type byte 8 -> 0 (RFC 1624)
            c = u32(net.ntohs(icmp.checksum)) + 0x0800
            c = (c & 0xFFFF) + (c >> 16)
            icmp.checksum = net.htons(c)
            net.swap_ipv4(ip)
            net.swap_mac(eth)
            replies[0] += 1
            return net.XDP_TX
        if eth.proto == net.htons(net.ETH_P_IPV6):
            ip6 = net.ipv6(ctx, eth)
            if not ip6 or ip6.nexthdr != net.IPPROTO_ICMPV6:
                return net.XDP_PASS
            icmp6 = net.icmp(ctx, ip6)
            if not icmp6 or icmp6.type != 128:
                return net.XDP_PASS
            icmp6.type = 129
            # type 128 -> 129 adds 0x0100 to the sum: subtract it (add its complement);
            # the pseudo-header sums the same with the addresses swapped
            c = u32(net.ntohs(icmp6.checksum)) + 0xFEFF
            c = (c & 0xFFFF) + (c >> 16)
            icmp6.checksum = net.htons(c)
            net.swap_ipv6(ip6)
            net.swap_mac(eth)
            replies[1] += 1
            return net.XDP_TX
        return net.XDP_PASS

    return reflector, replies


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    iface = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    prog, replies = build()
    try:
        with prog.attach(iface):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(1)
                print(f"echo replies sent: IPv4 {replies.sum(0)}, IPv6 {replies.sum(1)}",
                      flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        prog.close()
        replies.close()


if __name__ == "__main__":
    main()
