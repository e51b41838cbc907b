"""The shape of every owner of a kernel object: `close()` it, or use it as a context manager,
and garbage collection closes what was forgotten."""

from __future__ import annotations

from typing import Self


class Closes:
    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown, a half-built object
            pass


__all__ = ["Closes"]
