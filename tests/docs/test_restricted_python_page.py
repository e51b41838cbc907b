"""Every ```python block of docs/restricted-python.md runs as a program of its own, and its
asserts check what the page says (issue 17 item 12)."""

from __future__ import annotations

import os
import re
import runpy
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "restricted-python.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)
NEEDS_ROOT = ("maps.", ".run(", ".attach(")  # what creates maps or loads programs


def blocks() -> list[tuple[int, str]]:
    text = PAGE.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_page_has_examples() -> None:
    assert len(blocks()) >= 10


@pytest.mark.parametrize("line, code", [pytest.param(line, code, id=f"line{line}")
                                        for line, code in blocks()])
def test_example_runs(line: int, code: str, tmp_path: Path) -> None:
    if os.geteuid() != 0 and any(s in code for s in NEEDS_ROOT):
        pytest.skip("the example loads BPF programs or creates maps: needs root")
    # the compiler reads functions' source with inspect, so each block is a real file; the
    # blank lines keep the page's line numbers in tracebacks and compile errors
    path = tmp_path / "example.py"
    path.write_text("\n" * (line - 1) + code)
    runpy.run_path(str(path), run_name="__main__")
