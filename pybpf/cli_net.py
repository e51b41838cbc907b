"""`pybpf xdp-filter`, `pybpf xdp-stats` and `pybpf pktcount`: the packet commands
(pybpf/netprogs). Expected failures (privilege, an unknown interface, a missing kernel
feature, an interface that already has an XDP program) print one line and exit 1."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any

COMMANDS = {"xdp-filter": "xdp_filter", "xdp-stats": "xdp_stats", "pktcount": "pktcount"}


def _guarded(name: str, module: str) -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        from pybpf.cli_support.failures import escalate
        from pybpf.cli_support.signals import Stop
        from pybpf.compiler.errors import CompileError
        from pybpf.sys import BPFError

        mod = importlib.import_module(f"pybpf.netprogs.{module}")
        try:
            with escalate():  # EMFILE and stdout failures: said by cli.main
                return mod.run(args)
        except CompileError as e:
            print(f"pybpf {name}: internal error: the BPF program does not compile: {e}",
                  file=sys.stderr)
        except (BPFError, PermissionError, ValueError, OSError) as e:
            text = str(e).strip().splitlines()
            print(f"pybpf {name}: {text[0] if text else type(e).__name__}", file=sys.stderr)
        except (KeyboardInterrupt, Stop):
            return 0  # interrupted before the interval loop: already cleaned up
        return 1

    return call


def add_parsers(subparsers: Any) -> None:
    """Add one subcommand per packet command to the `pybpf` parser's subparsers."""
    for name, module in COMMANDS.items():
        mod = importlib.import_module(f"pybpf.netprogs.{module}")
        p = subparsers.add_parser(name, help=mod.HELP, description=mod.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(func=_guarded(name, module))
