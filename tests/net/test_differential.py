"""Differential: the packet programs run on crafted frames through BPF_PROG_TEST_RUN give
the verdicts and counters of the Python reference (tests/net/packets.py): truncated headers
at every length, IPv4 options and bad IHLs, VLAN and 802.1ad tags, fragments, IPv6."""

from __future__ import annotations

import collections
import importlib.util
import ipaddress
import random
import struct
from pathlib import Path

import pytest

from pybpf.netprogs.xdp_filter import XdpFilter, parse_rule
from pybpf.netprogs.xdp_stats import XdpStats
from tests.net import packets as P
from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.usefixtures("no_leaks")]
XDP_DROP, XDP_PASS, XDP_TX = 1, 2, 3
RULES = ["198.18.0.0/24", "198.18.0.77", "2001:2::/64", "2001:2:0:1::5/128", "53/udp",
         "22", "443/tcp", "198.19.0.0/16"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _corpus(seed: int, n: int) -> list[bytes]:
    rng = random.Random(seed)
    frames = [P.random_frame(rng) for _ in range(n)]
    # every truncation of a few full frames, VLAN-tagged and not
    for vlan in (None, 0x8100):
        full = [P.eth(0x0800, P.ipv4(17, "198.20.0.1", "198.18.0.2", P.udp(1, 53, b"x"),
                                     b"\x01" * 8), vlan),
                P.eth(0x86DD, P.ipv6(6, "2001:3::1", "2001:2::2", P.tcp(1, 22)), vlan),
                P.eth(0x0800, P.ipv4(1, "198.20.0.1", "198.18.0.2", P.icmp(8, 1, 1)), vlan)]
        for f in full:
            frames += [f[:k] for k in range(14, len(f) + 1)]
    return frames


def test_filter_matches_reference():
    rules = [parse_rule(r) for r in RULES]
    frames = _corpus(1, 1500)
    want_counts: collections.Counter = collections.Counter()
    want_bytes: collections.Counter = collections.Counter()
    with XdpFilter(rules) as flt:
        for i, frame in enumerate(frames):
            ref = P.filter_reference(frame, rules)
            res = flt.program.test_run(frame)
            verdict = XDP_DROP if ref and ref[0] else XDP_PASS
            assert res.retval == verdict, f"frame {i}: {frame.hex()} reference {ref}"
            if ref is not None:
                want_counts[ref[0]] += 1
                want_bytes[ref[0]] += ref[1]
        got = flt.counters()
    assert {k: v for k, v in got.items() if v[0]} == \
        {k: (want_counts[k], want_bytes[k]) for k in want_counts}
    assert len(want_counts) == len(rules) + 1  # the corpus reaches every rule and passes


def test_stats_matches_reference():
    frames = _corpus(2, 1500)
    want: collections.Counter = collections.Counter()
    want_bytes: collections.Counter = collections.Counter()
    with XdpStats(drop_truncated=True) as st:
        for i, frame in enumerate(frames):
            cls, size = P.stats_reference(frame)
            action = "DROP" if cls == "truncated" else "PASS"
            res = st.program.test_run(frame)
            assert res.retval == (XDP_DROP if action == "DROP" else XDP_PASS), \
                f"frame {i}: {frame.hex()} reference {cls}"
            want[(cls, action)] += 1
            want_bytes[(cls, action)] += size
        got = st.counts()
    assert got == {k: (want[k], want_bytes[k]) for k in want}
    assert len(got) == len(P.STATS_CLASSES)  # the corpus reaches every class


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reflector_replies_match_reference():
    ex = _load("xdp_tx_reflector")
    prog, replies = ex.build()
    try:
        payload = bytes(range(40))
        req = P.eth(0x0800, P.ipv4(1, "198.18.0.1", "198.18.0.2", P.icmp(8, 7, 3, payload)))
        res = prog.test_run(req)
        assert res.retval == XDP_TX
        want = P.eth(0x0800, P.ipv4(1, "198.18.0.2", "198.18.0.1", P.icmp(0, 7, 3, payload)),
                     src=P.MAC_B, dst=P.MAC_A)
        assert res.data == want
        src, dst = "2001:2::1", "2001:2::2"
        req6 = P.eth(0x86DD, P.ipv6(58, src, dst, P.icmp6(128, 9, 4, src, dst, payload)))
        res6 = prog.test_run(req6)
        assert res6.retval == XDP_TX
        want6 = P.eth(0x86DD, P.ipv6(58, dst, src, P.icmp6(129, 9, 4, dst, src, payload)),
                      src=P.MAC_B, dst=P.MAC_A)
        assert res6.data == want6
        # not echo requests, or cut short: passed unchanged
        for frame in (P.eth(0x0800, P.ipv4(1, "198.18.0.1", "198.18.0.2", P.icmp(0, 1, 1))),
                      req[:14 + 20 + 7], req6[:14 + 40 + 4],
                      P.eth(0x0800, P.ipv4(17, "198.18.0.1", "198.18.0.2", P.udp(1, 2)))):
            r = prog.test_run(frame)
            assert (r.retval, r.data) == (XDP_PASS, frame)
        assert (replies.sum(0), replies.sum(1)) == (1, 1)
    finally:
        prog.close()
        replies.close()


@pytest.mark.parametrize("seed", range(4))
def test_reflector_checksum_any_request(seed):
    """The incremental checksum update equals a full recomputation for any identifier,
    sequence and payload (including the 0xFFFF/0x0000 corner cases of the one's sum)."""
    ex = _load("xdp_tx_reflector")
    prog, replies = ex.build()
    rng = random.Random(seed)
    try:
        for _ in range(200):
            ident, seq = rng.randrange(65536), rng.randrange(65536)
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 30)))
            req = P.ipv4(1, "198.18.0.1", "198.18.0.2", P.icmp(8, ident, seq, payload))
            res = prog.test_run(P.eth(0x0800, req))
            assert res.retval == XDP_TX
            body = res.data[34:]
            assert P.checksum(body) == 0, res.data.hex()
            assert struct.unpack("!HH", body[4:8]) == (ident, seq)
    finally:
        prog.close()
        replies.close()


def test_drop_example_matches_reference():
    ex = _load("xdp_drop")
    prog, dropped = ex.build(53)
    try:
        rng = random.Random(5)
        want = [0, 0]
        for frame in [P.random_frame(rng) for _ in range(500)]:
            n = 14
            proto = int.from_bytes(frame[12:14], "big")
            hit, size = False, 0
            if proto == 0x0800 and len(frame) >= n + 20 and frame[n + 9] == 17:
                off = n + (frame[n] & 0xF) * 4
                hit = (frame[n] & 0xF) >= 5 and len(frame) >= off + 8 \
                    and frame[off + 2:off + 4] == b"\x00\x35"
                size = int.from_bytes(frame[n + 2:n + 4], "big")
            elif proto == 0x86DD and len(frame) >= n + 48 and frame[n + 6] == 17:
                hit = frame[n + 42:n + 44] == b"\x00\x35"
                size = 40 + int.from_bytes(frame[n + 4:n + 6], "big")
            assert prog.test_run(frame).retval == (XDP_DROP if hit else XDP_PASS), frame.hex()
            if hit:
                want[0] += 1
                want[1] += size
        assert [dropped.sum(0), dropped.sum(1)] == want and want[0] > 0
    finally:
        prog.close()
        dropped.close()


def test_lpm_longest_prefix_wins():
    rules = [parse_rule(r) for r in ("198.18.0.0/15", "198.18.0.0/24", "198.18.0.7")]
    with XdpFilter(rules) as flt:
        for addr, rid in (("198.18.0.7", 3), ("198.18.0.8", 2), ("198.19.1.1", 1),
                          ("198.20.0.1", 0)):
            frame = P.eth(0x0800, P.ipv4(17, addr, "198.18.0.2", P.udp(1, 2)))
            assert flt.program.test_run(frame).retval == (XDP_DROP if rid else XDP_PASS)
            assert P.filter_reference(frame, rules)[0] == rid
        assert [flt.counters()[i][0] for i in range(4)] == [1, 1, 1, 1]
    assert ipaddress.ip_address("198.18.0.7") in rules[2].network
