"""`pybpf export`: serve in-kernel counters and histograms as Prometheus metrics.

    pybpf export [--listen 127.0.0.1:9435] [--config FILE ...] [--no-defaults] [--limit N]

Listens on 127.0.0.1 unless told otherwise; /metrics in the Prometheus text format, or
OpenMetrics when the scraper asks for it (Accept: application/openmetrics-text). SIGTERM and
SIGINT stop serving and detach everything (exit 0); SIGHUP is ignored with a message (restart to
reload the configuration). A configuration mistake prints "FILE:LINE:COL: message" and exits 1.

The modules a configuration names (`path:` a .py file, `module:` an importable name) are Python
code that the exporter runs with its privileges: trust a configuration like code."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
from typing import Any

from pybpf.cli_support import failures

HELP = "serve in-kernel metrics to Prometheus"
DEFAULT_LISTEN = "127.0.0.1:9435"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("export", help=HELP, description=HELP + ": syscalls, block I/O "
                              "and run-queue latency, TCP, execs, OOM kills, and the metrics "
                              "of custom modules named in --config files")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help=f"address to serve /metrics on (default {DEFAULT_LISTEN})")
    p.add_argument("--config", metavar="FILE", action="append", default=[],
                   help="YAML configuration (may be given several times); the modules it "
                        "names are Python code that the exporter runs, so trust it like code")
    p.add_argument("--no-defaults", action="store_true",
                   help="serve only the configured modules' metrics")
    p.add_argument("--limit", type=int, metavar="N",
                   help="series per metric (default 2000; over it they are added into an "
                        "__overflow__ series)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pybpf.export import config
    from pybpf.export.exporter import Exporter

    try:
        cfg = config.load(args.config)
        listen = args.listen or cfg.listen or DEFAULT_LISTEN
        try:
            host, port = config.parse_listen(listen)
        except ValueError as e:
            print(f"pybpf export: {e}", file=sys.stderr)
            return 1
        if args.no_defaults:
            cfg.defaults = []
        if args.limit is not None:
            if args.limit < 1:
                print("pybpf export: --limit must be at least 1", file=sys.stderr)
                return 1
            cfg.limit = args.limit
        if cfg.defaults == [] and not cfg.modules:
            print("pybpf export: nothing to export (no default groups and no modules)",
                  file=sys.stderr)
            return 1
    except config.ConfigError as e:
        print(f"pybpf export: {e}", file=sys.stderr)
        return 1

    # Signals arrive as their numbers on a socket (the wakeup fd) that the main thread reads.
    # The kernel may hand a signal to any thread, e.g. one of the scrape handlers: then a
    # Python handler alone would not wake the main thread from its wait (SIGTERM ignored for
    # as long as the wait lasts), but the byte that the C-level handler writes does.
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    old_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)

    def on_signal(signum: int, frame: Any) -> None:
        pass  # read from wake_r below; printing here could re-enter a print of the main thread

    # SIGHUP's default would kill the exporter (a closed terminal, a `kill -HUP` meant as
    # "reload"); reloading would rebuild and re-attach every program under live scrapes and
    # could leave a half-reloaded exporter, so it is ignored, and said so: restart to reload
    old = {signal.SIGHUP: signal.signal(signal.SIGHUP, on_signal)}
    exporter = Exporter(cfg, warn=_warn)
    try:
        try:
            exporter.build()
        except config.ConfigError as e:
            print(f"pybpf export: {e}", file=sys.stderr)
            return 1
        old.update((s, signal.signal(s, on_signal)) for s in (signal.SIGTERM, signal.SIGINT))
        exporter.start()
        try:
            h, p = exporter.serve(host, port)
        except OSError as e:
            failures.reraise(e)  # EMFILE: the open-file limit, said by pybpf.cli's main
            print(f"pybpf export: cannot listen on {listen}: {e.strerror}", file=sys.stderr)
            return 1
        shown = f"[{h}]" if ":" in h else h
        print(f"pybpf export: serving http://{shown}:{p}/metrics "
              f"({sum(len(s.metrics) for s in exporter.sources)} metrics, "
              f"{sum(len(s.session.programs) for s in exporter.sources)} programs)",
              file=sys.stderr, flush=True)
        while True:
            for signum in wake_r.recv(64):
                if signum != signal.SIGHUP:
                    return 0
                print("pybpf export: SIGHUP ignored (restart the exporter to reload its "
                      "configuration)", file=sys.stderr, flush=True)
    finally:
        exporter.close()
        for s, h in old.items():
            signal.signal(s, h)
        signal.set_wakeup_fd(old_fd)
        wake_r.close()
        wake_w.close()


def _warn(message: str) -> None:
    """The exporter's warnings ("leaving out the syscalls metrics: ..."). A default group
    refused for want of file descriptors is no missing hook: the open-file limit is too low
    for the exporter, which then ends with the one line pybpf.cli says for EMFILE, rather than
    serving a part of its metrics after a warning per group."""
    if os.strerror(errno.EMFILE) in message:
        raise failures.CommandFailure(OSError(errno.EMFILE, message))
    print(f"pybpf export: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pybpf")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["export", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
