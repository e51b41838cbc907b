"""The symbol layer's one exception: a name or address that cannot be resolved."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SymbolNotFoundError(LookupError):
    """A symbol, binary or address that does not resolve. The message says what was looked
    for, where, and (when there are any) the nearest names that do exist."""

    def __init__(self, message: str, suggestions: Iterable[str] = ()) -> None:
        self.suggestions = list(suggestions)
        if self.suggestions:
            message = f"{message}; nearest names: {', '.join(self.suggestions)}"
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def nearest(name: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """Up to `n` candidates that look like `name` (close spelling first, then substrings)."""
    pool = list(dict.fromkeys(candidates))
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if len(close) < n and len(name) >= 3:
        lowered = name.lower()
        close += sorted((c for c in pool if lowered in c.lower() and c not in close),
                        key=len)[: n - len(close)]
    return close
