"""SIGTERM and SIGHUP end a command the way Ctrl-C does: `install_signals()` makes them raise
`Stop`, which the run loops catch next to KeyboardInterrupt, so that the `finally` blocks
close every kernel object."""

from __future__ import annotations

import signal
from typing import Any


class Stop(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the SIGTERM handler to leave the run loops like Ctrl-C does."""


def install_signals() -> None:
    """SIGTERM (and SIGHUP) raise Stop in the main thread from now on."""
    def handler(signum: int, frame: Any) -> None:
        raise Stop(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass
