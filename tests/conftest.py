"""Shared fixtures: root requirement and the kernel-objects leak check."""

from __future__ import annotations

import pytest


def kernel_object_ids() -> dict[str, list[int]]:
    from pybpf.sys import objects

    return {kind: list(objects.ids(kind)) for kind in ("prog", "map", "link")}


@pytest.fixture
def no_leaks():
    """Asserts that the test leaves the kernel's program, map and link id lists as it found
    them (objects closed by the test itself, not by garbage collection at exit)."""
    import gc

    before = kernel_object_ids()
    yield
    gc.collect()
    after = kernel_object_ids()
    for kind in before:
        new = sorted(set(after[kind]) - set(before[kind]))
        assert not new, f"the test left {kind} ids {new} in the kernel"
