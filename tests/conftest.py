"""Shared fixtures: root requirement and the kernel-objects leak check."""

from __future__ import annotations

import time

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
    # the kernel frees programs after an RCU grace period, and their maps after that: wait
    deadline = time.monotonic() + 3
    while True:
        after = kernel_object_ids()
        leaked = any(set(after[k]) - set(before[k]) for k in before)
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for kind in before:
        new = sorted(set(after[kind]) - set(before[kind]))
        assert not new, f"the test left {kind} ids {new} in the kernel"
