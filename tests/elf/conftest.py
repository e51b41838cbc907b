"""Fixtures for the ELF loader tests: compiled test objects."""

from __future__ import annotations

import pytest

from tests.elf.build import build


@pytest.fixture(scope="session")
def objects() -> dict[str, str]:
    """Paths of the compiled test programs, by name."""
    from tests.elf.build import NAMES

    return {name: build(name) for name in NAMES}
