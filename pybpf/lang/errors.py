"""Diagnostics of the one-liner language: `file:line:col: error: ...`, the line, a caret."""

from __future__ import annotations

from pybpf.compiler.errors import CompileError, Loc


class LangError(CompileError):
    """A syntax or semantic error in a bpftrace program, with its position."""

    def render(self) -> str:
        loc = self.loc
        head = f"{loc}: error: {self.message}" if loc.line else f"error: {self.message}"
        lines = [head]
        if loc.text:
            lines.append(loc.text.rstrip("\n"))
            lines.append(" " * max(loc.col - 1, 0) + "^")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


__all__ = ["LangError", "Loc"]
