"""The one cache of feature probes (program, map and attach types, helpers, hooks, ISA and
helper behaviour): a probe's conclusive answer is kept for the process; an inconclusive one
(`UNKNOWN`: no privilege to try, so EPERM says nothing about the kernel) is asked again next
time, so that a probe made before privileges were gained never poisons later answers."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _Unknown:
    """The answer of a probe that could not tell (it is never cached)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()

_lock = threading.Lock()
_known: dict[Hashable, Any] = {}


def answer(key: Hashable, probe: Callable[[], T],
           conclusive: Callable[[T], bool] = lambda found: found is not UNKNOWN) -> T:
    """The cached answer for `key`, probing (outside the lock) when none is kept; answers
    that are not `conclusive` (UNKNOWN) are returned but not kept."""
    with _lock:
        if key in _known:
            return _known[key]
    found = probe()
    if conclusive(found):
        with _lock:
            _known.setdefault(key, found)
    return found


def clear() -> None:
    """Forget every answer (tests; a process that changed its privileges)."""
    with _lock:
        _known.clear()


def probe(unknown: Any = UNKNOWN) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a probe function of hashable arguments: its answers go through the cache;
    an UNKNOWN answer is returned to the caller as `unknown` (not cached). `f.raw(...)`
    gives the answer with UNKNOWN left as it is."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def raw(*args: Hashable) -> Any:
            return answer((fn.__module__, fn.__qualname__, args), lambda: fn(*args))

        @functools.wraps(fn)
        def cached(*args: Hashable) -> Any:
            found = raw(*args)
            return unknown if found is UNKNOWN else found

        cached.raw = raw  # type: ignore[attr-defined]  # the answer, UNKNOWN included
        return cached

    return wrap


__all__ = ["UNKNOWN", "answer", "clear", "probe"]
