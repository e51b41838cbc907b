"""Deep programs: the compiler's passes recurse over the tree, so a long chain of operators or
deeply nested blocks needs more than Python's default recursion limit. The compiler runs with
room for it (CPython 3.11 keeps Python-to-Python calls off the C stack), and a program deeper
still is a positioned CompileError that says so, never a RecursionError."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pybpf.compiler.errors import CompileError, Loc

RECURSION_LIMIT = 20000


@contextmanager
def room_to_recurse() -> Iterator[None]:
    old = sys.getrecursionlimit()
    if old < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def too_deep(loc: Loc | None, cls: type[CompileError] = CompileError) -> CompileError:
    return cls("this program is nested too deeply for the compiler (expressions or blocks "
               "inside each other, or a chain of operators, thousands of levels deep)", loc,
               "Split it into several statements or probes.")


__all__ = ["RECURSION_LIMIT", "room_to_recurse", "too_deep"]
