"""Deeply nested one-liners: hundreds of levels compile; deeper ones are one positioned
error (never a RecursionError or an internal error)."""

from __future__ import annotations

import pytest

from pybpf.compiler.errors import CompileError
from tests.util import requires_root

pytestmark = requires_root


def _outcome(src: str) -> str:
    from pybpf.lang.compile import Compiler

    try:
        comp = Compiler(src)
        try:
            comp.compile()
        finally:
            comp.close()
    except CompileError as e:
        assert e.loc.line >= 1 and "internal compiler error" not in e.message, e.render()
        return e.message
    return "ok"


@pytest.mark.parametrize("src", [
    "BEGIN { $x = " + "(" * 500 + "1" + ")" * 500 + "; exit(); }",
    "BEGIN { $x = 1; " + "if ($x) { " * 400 + "$x = 2;" + " }" * 400 + " exit(); }",
    "BEGIN { $x = " + "1 ? " * 400 + "1" + " : 2" * 400 + "; exit(); }",
    "BEGIN { $x = 1; $y = " + " + ".join(["$x"] * 3000) + "; exit(); }",
], ids=["parens", "ifs", "ternaries", "chain"])
def test_hundreds_of_levels_compile(src: str) -> None:
    assert _outcome(src) == "ok"


@pytest.mark.parametrize("src, says", [
    ("BEGIN { $x = " + "(" * 3000 + "1" + ")" * 3000 + "; exit(); }", "nested more than"),
    ("BEGIN { $x = 1; " + "if ($x) { " * 3000 + "$x = 2;" + " }" * 3000 + " }", "nested more"),
    ("BEGIN { $x = 1; $y = " + " + ".join(["$x"] * 20000) + "; exit(); }", "too deeply"),
], ids=["parens", "ifs", "chain"])
def test_deeper_is_one_positioned_error(src: str, says: str) -> None:
    assert says in _outcome(src)
