"""Benchmark: nanoseconds per packet of XDP programs through BPF_PROG_TEST_RUN, pybpf-compiled
against the same programs in C built with clang -O2 in this run (bench/c/packet_bench.bpf.c,
compiled into a temporary directory), and their instruction counts.

    sudo python3 bench/packet_bench.py [--repeat 1000000] [--trials 7] [--json]

Programs: drop-all (return XDP_DROP), parse-and-count (Ethernet, IPv4, per-protocol per-CPU
counter, UDP port check; a UDP packet), LPM filter (source address looked up in an LPM trie
of 256 prefixes; a matching packet), reflector (ICMP echo request <-> reply rewrite: type,
incremental checksum, IPs and MACs swapped, XDP_TX; it toggles request/reply so that every
repetition of the test run rewrites the same buffer). Each trial is one BPF_PROG_TEST_RUN
with `repeat` runs; the kernel's average per run is taken; pybpf and C trials alternate and
the medians are compared. Target: pybpf <= 1.1x clang.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
C_SOURCE = os.path.join(ROOT, "bench", "c", "packet_bench.bpf.c")
TARGET = 1.1
NAMES = ("drop_all", "parse_count", "lpm_filter", "reflector")


def build_pybpf(stats: Any, blocked: Any) -> dict[str, Any]:
    from pybpf import bpf, net, u32

    @bpf.xdp
    def drop_all(ctx):  # noqa: ANN001, ANN202
        return net.XDP_DROP

    @bpf.xdp
    def parse_count(ctx):  # noqa: ANN001, ANN202
        eth = net.eth(ctx)
        if not eth or eth.proto != net.htons(net.ETH_P_IP):
            return net.XDP_PASS
        ip = net.ipv4(ctx, eth)
        if not ip:
            return net.XDP_PASS
        stats[ip.protocol] += 1
        udp = net.udp(ctx, ip)
        if udp and ip.protocol == net.IPPROTO_UDP and udp.dest == net.htons(53):
            return net.XDP_DROP
        return net.XDP_PASS

    @bpf.xdp
    def lpm_filter(ctx):  # noqa: ANN001, ANN202
        eth = net.eth(ctx)
        if not eth or eth.proto != net.htons(net.ETH_P_IP):
            return net.XDP_PASS
        ip = net.ipv4(ctx, eth)
        if not ip:
            return net.XDP_PASS
        if blocked.get((32, ip.saddr), 0):
            return net.XDP_DROP
        return net.XDP_PASS

    @bpf.xdp
    def reflector(ctx):  # noqa: ANN001, ANN202
        eth = net.eth(ctx)
        if not eth or eth.proto != net.htons(net.ETH_P_IP):
            return net.XDP_PASS
        ip = net.ipv4(ctx, eth)
        if not ip or ip.protocol != net.IPPROTO_ICMP:
            return net.XDP_PASS
        icmp = net.icmp(ctx, ip)
        if not icmp:
            return net.XDP_PASS
        c = u32(net.ntohs(icmp.checksum))
        if icmp.type == 8:
            icmp.type = 0
            c += 0x0800
        elif icmp.type == 0:
            icmp.type = 8
            c += 0xF7FF
        else:
            return net.XDP_PASS
        c = (c & 0xFFFF) + (c >> 16)
        icmp.checksum = net.htons(c)
        net.swap_ipv4(ip)
        net.swap_mac(eth)
        return net.XDP_TX

    return {"drop_all": drop_all, "parse_count": parse_count, "lpm_filter": lpm_filter,
            "reflector": reflector}


def packets() -> dict[str, bytes]:
    from tests.net import packets as P

    udp = P.eth(0x0800, P.ipv4(17, "198.20.0.1", "198.18.0.2", P.udp(1234, 80, bytes(18))))
    blocked = P.eth(0x0800, P.ipv4(17, "198.18.3.7", "198.18.0.2", P.udp(1234, 80, bytes(18))))
    echo = P.eth(0x0800, P.ipv4(1, "198.18.0.1", "198.18.0.2", P.icmp(8, 1, 1, bytes(32))))
    return {"drop_all": udp, "parse_count": udp, "lpm_filter": blocked, "reflector": echo}


EXPECT = {"drop_all": 1, "parse_count": 2, "lpm_filter": 1, "reflector": 3}


def fill_lpm(blocked: Any) -> None:
    """256 /23 prefixes in 198.18.0.0/15, written as raw keys (the C map's BTF key type is
    a struct, pybpf's LPMTrie takes networks: the bytes are the same)."""
    import ipaddress

    for i in range(256):
        net = ipaddress.ip_network(f"198.{18 + i // 128}.{(i % 128) * 2}.0/23")
        key = net.prefixlen.to_bytes(4, "little") + net.network_address.packed
        blocked.update_raw(key, (1).to_bytes(4, "little"))


def clang_build(tmp: str) -> str:
    cc = shutil.which("clang")
    if cc is None:
        sys.exit("clang is not installed: the C reference cannot be built")
    obj = os.path.join(tmp, "packet_bench.bpf.o")
    inc = f"/usr/include/{platform.machine()}-linux-gnu"
    subprocess.run([cc, "-target", "bpf", "-O2", "-g", "-I", inc, "-c", C_SOURCE, "-o", obj],
                   check=True)
    return obj


def xlated_count(prog: Any) -> int:
    return len(prog.xlated()) // 8


def median_ns(prog: Any, pkt: bytes, repeat: int) -> float:
    return prog.test_run(data=pkt, repeat=repeat).duration_ns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1_000_000)
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from pybpf import maps, u32, u64
    from pybpf.elf import Object

    pkts = packets()
    stats = maps.PerCPUArray(key=u32, value=u64, max_entries=256, name="stats")
    blocked = maps.LPMTrie("ipv4", value=u32, max_entries=1024, name="blocked")
    fill_lpm(blocked)
    progs = build_pybpf(stats, blocked)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Object.open(clang_build(tmp)) as obj:
        obj.load()
        fill_lpm(obj.maps.blocked)
        try:
            for name in NAMES:
                py = progs[name].load()
                c = obj.programs[name].program
                pkt = pkts[name]
                for p in (py, c):
                    got = p.test_run(data=pkt).retval
                    assert got == EXPECT[name], f"{name}: returned {got}"
                t_py, t_c = [], []
                for _ in range(args.trials):
                    t_py.append(median_ns(py, pkt, args.repeat))
                    t_c.append(median_ns(c, pkt, args.repeat))
                m_py, m_c = statistics.median(t_py), statistics.median(t_c)
                rows.append({"program": name, "pybpf_ns": m_py, "clang_ns": m_c,
                             "ratio": m_py / m_c if m_c else float("inf"),
                             "pybpf_insns": sum(i.size for i in progs[name].insns),
                             "pybpf_xlated": xlated_count(py), "clang_xlated": xlated_count(c)})
        finally:
            for p in progs.values():
                p.close()
            stats.close()
            blocked.close()
    if args.json:
        print(json.dumps({"repeat": args.repeat, "trials": args.trials, "rows": rows}))
        return
    print(f"BPF_PROG_TEST_RUN, repeat={args.repeat:,}, median of {args.trials} trials "
          f"(target: pybpf <= {TARGET}x clang -O2)\n")
    print("| program | pybpf ns/pkt | clang ns/pkt | ratio | pybpf insns (emitted / "
          "xlated) | clang insns (xlated) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['program']} | {r['pybpf_ns']:.1f} | {r['clang_ns']:.1f} | "
              f"{r['ratio']:.2f}x | {r['pybpf_insns']} / {r['pybpf_xlated']} | "
              f"{r['clang_xlated']} |")


if __name__ == "__main__":
    main()
