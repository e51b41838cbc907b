"""What every tool's user-space side shares: the run loops (events until a duration ends, or
a summary every interval), their --duration and interval/count arguments, --json's
messages, and text helpers for bcc's column layouts. Ending on signals, the argument types and
the time column are pybpf.cli_support's (shared with the packet commands)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from pybpf.cli_support import target_exit
from pybpf.cli_support.argtypes import positive_float, positive_int
from pybpf.cli_support.clock import hms
from pybpf.cli_support.signals import Stop, install_signals
from pybpf.session import Session

FOREVER = 99999999


def json_ready(args: argparse.Namespace) -> None:
    """With --json, a line on stderr once the tool traces (stdout stays JSON only)."""
    if getattr(args, "json", False):
        print(f"pybpf {getattr(args, 'command', 'tool')}: tracing... Hit Ctrl-C to end.",
              file=sys.stderr, flush=True)


def note(args: argparse.Namespace, text: str, file: TextIO | None = None) -> None:
    """A human message ("Tracing... Hit Ctrl-C to end."): stdout normally, stderr with
    --json so that stdout stays one JSON object per line."""
    out = sys.stderr if getattr(args, "json", False) else (file or sys.stdout)
    print(text, file=out, flush=True)


def run_events(session: Session, handle: Callable[[Any], None], duration: float | None,
               ready: Callable[[], None] | None = None,
               after_poll: Callable[[], None] | None = None) -> None:
    """Attach, call `ready()` (the tool prints its header), then hand every event to `handle`
    until `duration` seconds pass or the user interrupts; always closes the session."""
    install_signals()
    deadline = time.monotonic() + duration if duration else None
    try:
        session.attach()
        if ready is not None:
            ready()
        while True:
            timeout = 100
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                timeout = max(1, min(timeout, int(left * 1000)))
            for ev in session.poll(timeout):
                handle(ev)
            if after_poll is not None:
                after_poll()
            if target_exit.gone():  # -p's process is gone: no event can come any more
                break
        for ev in session.poll(0):  # what arrived just before the end
            handle(ev)
    except (KeyboardInterrupt, Stop):
        pass
    finally:
        session.close()


def run_intervals(session: Session, tick: Callable[[bool], None], interval: float,
                  count: int, duration: float | None = None,
                  ready: Callable[[], None] | None = None,
                  on_poll: Callable[[Any], None] | None = None) -> None:
    """Attach, call `ready()`, then call `tick(last)` every `interval` seconds, `count`
    times (or until `duration`, or Ctrl-C: then one last tick); always closes the session."""
    install_signals()
    try:
        session.attach()
        if ready is not None:
            ready()
        start = time.monotonic()
        end = start + duration if duration else None
        done = 0
        next_at = start + interval
        interrupted = False
        while True:
            try:
                stop_at = next_at if end is None else min(next_at, end)
                _wait_until(session, stop_at, on_poll)
            except (KeyboardInterrupt, Stop):
                interrupted = True
            done += 1
            finished = interrupted or done >= count or target_exit.gone() or (
                end is not None and time.monotonic() >= end - 1e-3)
            tick(finished)
            if finished:
                break
            next_at += interval
    except (KeyboardInterrupt, Stop):
        pass
    finally:
        session.close()


def _wait_until(session: Session, when: float, on_poll: Callable[[Any], None] | None) -> None:
    while True:
        left = when - time.monotonic()
        if left <= 0 or target_exit.exited():
            return
        if on_poll is not None:
            for ev in session.poll(max(1, min(100, int(left * 1000)))):
                on_poll(ev)
        else:
            time.sleep(min(left, 0.2))


def syscalls_traceable(names: Iterable[str]) -> list[str]:
    """Those of the system calls `names` that have tracepoints here; none is an error naming
    the first (a tool that attached nothing would print its header and trace nothing)."""
    from pybpf.btf.tracefs import tracepoint_exists
    from pybpf.compiler.errors import UnknownHookError

    names = list(names)
    found = [n for n in names if tracepoint_exists("syscalls", f"sys_enter_{n}")]
    if not found:
        hook = f"tracepoint syscalls:sys_enter_{names[0]}"
        raise UnknownHookError(f"no {hook}", hook=hook)
    return found


def add_duration(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=positive_float, metavar="SECONDS",
                   help="stop after this many seconds")


def add_interval_count(p: argparse.ArgumentParser) -> None:
    p.add_argument("interval", nargs="?", type=positive_float, default=FOREVER,
                   help="output interval, in seconds")
    p.add_argument("count", nargs="?", type=positive_int, default=FOREVER,
                   help="number of outputs")


def interval_start(timestamp: bool) -> None:
    """How bcc's interval tools begin each summary: a blank line, then with -T the time."""
    print()
    if timestamp:
        print(cols("%-8s\n", hms()), end="")


def text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def join_nonempty(parts: Iterable[str]) -> str:
    return " ".join(p for p in parts if p)


def cols(spec: str, *values: Any) -> str:
    """printf-style columns (`cols("%-16s %-7d", comm, pid)`): the layouts read as bcc's."""
    return spec % values
