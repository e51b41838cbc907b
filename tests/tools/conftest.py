"""Every tool test checks that the tool left nothing in the kernel."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_leaks(no_leaks):  # noqa: PT004
    yield
