"""The wall-clock time as the commands print it in their TIME columns."""

from __future__ import annotations

import time


def hms() -> str:
    """The local time of day, "14:03:59"."""
    return time.strftime("%H:%M:%S")
