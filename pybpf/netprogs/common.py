"""What the packet commands share: protocol names, byte formatting, and the interval loop
that prints until a duration ends or the user interrupts (SIGINT, SIGTERM, SIGHUP)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from pybpf.cli_support.argtypes import positive_float
from pybpf.cli_support.signals import Stop, install_signals

IP_PROTOCOLS = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 47: "GRE", 50: "ESP", 58: "ICMPv6",
                132: "SCTP"}
XDP_ACTIONS = ("ABORTED", "DROP", "PASS", "TX", "REDIRECT")


def proto_name(proto: int) -> str:
    return IP_PROTOCOLS.get(proto, str(proto))


def human(n: float) -> str:
    """1234567 -> '1.2M' (packet and byte rates in tables)."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"


def add_loop_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--interval", type=positive_float, default=1.0, metavar="SECONDS",
                   help="print every SECONDS (default 1)")
    p.add_argument("--duration", type=positive_float, metavar="SECONDS",
                   help="stop after this many seconds")
    p.add_argument("--json", action="store_true", help="one JSON object per interval")


def run_loop(tick: Callable[[float, bool], None], interval: float,
             duration: float | None, ready: Callable[[], None] | None = None) -> None:
    """Call `ready()` (the command says it runs), then `tick(elapsed_seconds, last)` every
    `interval` seconds until `duration` ends or a signal arrives (then once more with
    last=True, also when the signal comes during `ready()`). The caller closes its objects
    in a `finally` around this call."""
    install_signals()
    start = last_at = time.monotonic()
    end = start + duration if duration else None
    next_at = start + interval
    while True:
        interrupted = False
        try:
            if ready is not None:
                ready, announce = None, ready
                announce()
            stop_at = next_at if end is None else min(next_at, end)
            while (left := stop_at - time.monotonic()) > 0:
                time.sleep(min(left, 0.2))
        except (KeyboardInterrupt, Stop):
            interrupted = True
        now = time.monotonic()
        finished = interrupted or (end is not None and now >= end - 1e-3)
        try:
            tick(max(now - last_at, 1e-6), finished)
        except (KeyboardInterrupt, Stop):
            finished = True
        last_at = now
        if finished:
            return
        next_at += interval
