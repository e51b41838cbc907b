"""Exceptions raised by :mod:`pybpf.btf`, and the did-you-mean helper they share."""

from __future__ import annotations

from collections.abc import Callable, Iterable


class BTFError(Exception):
    """Malformed BTF data, or a request that the BTF cannot answer."""


class BTFFileError(BTFError):
    """A BTF file that cannot be used: missing, not a regular file, too large or not BTF.

    The message is one line that starts with the file's name (and ``where``, e.g. which
    setting named it); ``reason`` is the rest, ``errno`` that of a failed open, if any.
    """

    def __init__(self, path: str, reason: str, errno: int | None = None, where: str = "") -> None:
        self.path = path
        self.reason = reason
        self.errno = errno
        super().__init__(f"{path}{where}: {reason}")


class BTFNotFoundError(BTFError, KeyError):
    """A name (type, member, tracepoint) that does not exist; carries suggestions.

    It is a ``KeyError`` too, so ``except KeyError`` works for look-ups. `suggestions` may
    be a function: then they are searched for only when the message or the suggestions are
    asked for. A miss over the kernel's ~100,000 names costs about a second of "did you
    mean", which a caller that handles the miss (a probe, a loader trying names) never pays.
    """

    def __init__(self, message: str,
                 suggestions: Iterable[str] | Callable[[], Iterable[str]] = ()) -> None:
        self._found: list[str] | None = None
        self._search: Callable[[], Iterable[str]] | None = None
        if callable(suggestions):
            self._search = suggestions
        else:
            self._found = list(suggestions)
        super().__init__(message)

    @property
    def suggestions(self) -> list[str]:
        if self._found is None:
            assert self._search is not None
            self._found, self._search = list(self._search()), None
        return self._found

    def __str__(self) -> str:  # KeyError would quote the message
        message = str(self.args[0])
        if self.suggestions:
            message += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        return message


def suggest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` names from ``candidates`` that are close to ``word``.

    Names that contain ``word`` (or are contained in it) come first, shortest first;
    the rest is ranked by :mod:`difflib` similarity among names of a similar length.
    """
    import difflib

    pool = {c for c in candidates if c}
    pool.discard(word)
    if not pool or not word:
        return []
    lw = word.lower()
    contained = sorted((c for c in pool if lw in c.lower()), key=lambda c: (len(c), c))
    result = contained[:n]
    if len(result) < n:
        lo, hi = len(word) * 0.6 - 2, len(word) * 1.5 + 2
        near = [c for c in pool if lo <= len(c) <= hi and c not in result]
        for c in difflib.get_close_matches(word, near, n=n, cutoff=0.6):
            if len(result) >= n:
                break
            result.append(c)
    return result
