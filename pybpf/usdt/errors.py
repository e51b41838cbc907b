"""The USDT layer's one exception."""

from __future__ import annotations


class UsdtError(LookupError):
    """A USDT probe that cannot be found or used: a binary without `.note.stapsdt` notes, an
    unknown provider or probe name, or an argument spec this architecture does not read. The
    message says what was looked for and where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
