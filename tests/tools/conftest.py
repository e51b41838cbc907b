"""Every tool test (as root) checks that it left nothing in the kernel."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_leaks(request):  # noqa: PT004
    if os.geteuid() != 0:
        yield
        return
    request.getfixturevalue("no_leaks")
    yield
