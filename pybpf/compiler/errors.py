"""Compiler diagnostics: CompileError with file:line:col, the source line and a caret."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Loc:
    """A source position: file, 1-based line and column, and the text of that line."""

    file: str
    line: int
    col: int
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_LOC = Loc("<unknown>", 0, 0)


class CompileError(Exception):
    """Source the compiler cannot turn into BPF. The message names the place, shows the line
    with a caret, and says what is allowed instead."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = "") -> None:
        self.message = message
        self.loc = loc or NO_LOC
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.loc}: error: {self.message}" if self.loc.line else f"error: {self.message}"
        lines = [head]
        if self.loc.text:
            lines.append("    " + self.loc.text.rstrip())
            lines.append("    " + " " * max(self.loc.col - 1, 0) + "^")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class KernelFormatError(CompileError):
    """The kernel's description of an event (a tracefs format file) lacks what the source
    asks for, or is damaged. For a user's program this is an ordinary positioned error; a
    ready tool reports it as a kernel difference in one line, not as a bug of its own."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = "",
                 event: str = "") -> None:
        self.event = event
        super().__init__(message, loc, hint)


class VerifierLimitError(CompileError):
    """The verifier gave up on a loop: following every path through every iteration took
    more states or instructions than it allows. The compiler refuses the loops it can tell
    are too much (loopcost.LOOP_BRANCH_BUDGET); the paths that branches inside a loop open
    up only the verifier counts exactly, so this comes from the load."""


class InternalCompilerError(CompileError):
    """The kernel verifier rejected code that the compiler accepted: a compiler bug."""

    def __init__(self, message: str, loc: Loc | None = None, verifier_log: str = "") -> None:
        self.verifier_log = verifier_log
        super().__init__(
            f"internal compiler error: the verifier rejected the generated code: {message}",
            loc, "This is a bug in pybpf's compiler; please report it with this source line.")


class UnknownHookError(CompileError):
    """The program names a hook (a tracepoint, a raw tracepoint) this kernel does not have.
    For a user's program this is an ordinary positioned error; a ready tool reports it as a
    kernel difference (`hook` says which), not as a bug of its own."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = "",
                 hook: str = "") -> None:
        self.hook = hook
        super().__init__(message, loc, hint)
