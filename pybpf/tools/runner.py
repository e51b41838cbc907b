"""What every tool's user-space side shares: signal handling, the run loops (events until a
duration ends, or a summary every interval), timestamps, and common argument types."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from pybpf.tools.session import Session

FOREVER = 99999999


class Stop(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the SIGTERM handler to leave the run loops like Ctrl-C does."""


def install_signals() -> None:
    """SIGTERM (and SIGHUP) end a tool the way Ctrl-C does, so the finally blocks close every
    kernel object."""
    def handler(signum: int, frame: Any) -> None:
        raise Stop(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass


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
            finished = interrupted or done >= count or (
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
        if left <= 0:
            return
        if on_poll is not None:
            for ev in session.poll(max(1, min(100, int(left * 1000)))):
                on_poll(ev)
        else:
            time.sleep(min(left, 0.2))


def hms() -> str:
    return time.strftime("%H:%M:%S")


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def int_list(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of "
                                         "numbers") from None
    if not out or any(v <= 0 for v in out):
        raise argparse.ArgumentTypeError(f"{text!r}: give positive numbers")
    return out


def add_duration(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=positive_float, metavar="SECONDS",
                   help="stop after this many seconds")


def add_interval_count(p: argparse.ArgumentParser) -> None:
    p.add_argument("interval", nargs="?", type=positive_float, default=FOREVER,
                   help="output interval, in seconds")
    p.add_argument("count", nargs="?", type=positive_int, default=FOREVER,
                   help="number of outputs")


def text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def join_nonempty(parts: Iterable[str]) -> str:
    return " ".join(p for p in parts if p)


def cols(spec: str, *values: Any) -> str:
    """printf-style columns (`cols("%-16s %-7d", comm, pid)`): the layouts read as bcc's."""
    return spec % values
