"""Options the TCP tools share, as bcc spells them: port lists (-P, -L, -D) and the address
family (-4/-6, which the BPF side filters on)."""

from __future__ import annotations

import argparse
import socket

from pybpf.cli_support import argtypes

#: "80,443" -> {80, 443} (an argparse type; ports are u16: 0 to 65535)
ports = argtypes.port_list


def add_family_arguments(p: argparse.ArgumentParser) -> None:
    """-4/--ipv4 or -6/--ipv6."""
    fam = p.add_mutually_exclusive_group()
    fam.add_argument("-4", "--ipv4", action="store_true", help="trace IPv4 family only")
    fam.add_argument("-6", "--ipv6", action="store_true", help="trace IPv6 family only")


def family_of(args: argparse.Namespace) -> int:
    """AF_INET or AF_INET6 with -4 or -6, else 0 (both)."""
    return socket.AF_INET if args.ipv4 else socket.AF_INET6 if args.ipv6 else 0
