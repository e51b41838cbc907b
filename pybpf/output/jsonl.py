"""JSON lines: one object per line, flushed, so that pipes see each record when it happens."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


def to_jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def emit(obj: dict[str, Any], file: TextIO | None = None) -> None:
    out = file or sys.stdout
    out.write(json.dumps(to_jsonable(obj), separators=(",", ":")) + "\n")
    out.flush()
