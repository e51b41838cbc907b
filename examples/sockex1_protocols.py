"""Count packets and bytes per IP protocol with a socket filter (the kernel's samples/bpf
sockex1 idea), written at the raw level: assembler text, a map, a socket.

    sudo python examples/sockex1_protocols.py [IFACE] [SECONDS]
"""

from __future__ import annotations

import socket
import sys
import time

from pybpf import Program, asm, attach, maps

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
PROTOCOLS = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}

# r6 = skb; skip outgoing copies; key = IP protocol byte (Ethernet header 14 + offset 9);
# stats[key] += (1 packet, skb->len bytes)
PROGRAM = """
    r6 = r1
    r1 = *(u32 *)(r6 +4)          ; skb->pkt_type
    if r1 == 4 goto out           ; PACKET_OUTGOING: count each packet once
    r0 = *(u8 *)skb[23]           ; legacy packet load: ip->protocol
    *(u32 *)(r10 -4) = r0
    r7 = *(u32 *)(r6 +0)          ; skb->len
    r2 = r10
    r2 += -4
    r1 = map[stats] ll
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    lock *(u64 *)(r0 +8) += r7
out:
    r0 = 0                        ; keep nothing: this socket only counts
    exit
"""


def open_counter(ifname: str = "lo") -> tuple[maps.Array, Program, socket.socket, object]:
    """The stats map (protocol -> (packets, bytes)), the program, the packet socket and its
    filter link. Close them in reverse order."""
    stats = maps.Array(value="u64[2]", max_entries=256, name="stats")
    prog = Program.load("socket_filter", asm.assemble(PROGRAM, maps={"stats": stats}),
                        name="sockex1")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((ifname, 0))
    link = attach.socket_filter(prog, sock)
    return stats, prog, sock, link


def counts(stats: maps.Array) -> dict[int, tuple[int, int]]:
    return {proto: (pkts, nbytes) for proto, (pkts, nbytes) in stats.items() if pkts}


def main() -> None:
    ifname = sys.argv[1] if len(sys.argv) > 1 else "lo"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    stats, prog, sock, link = open_counter(ifname)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(1)
            line = "  ".join(f"{PROTOCOLS.get(p, p)}: {n} pkts {b} bytes"
                             for p, (n, b) in sorted(counts(stats).items()))
            print(line or "(no IP packets yet)", flush=True)
    finally:
        link.close()
        sock.close()
        prog.close()
        stats.close()


if __name__ == "__main__":
    main()
