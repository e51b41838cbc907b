"""The VM suite runs under an emulated CPU (TCG), 10-30 times slower than the host, and CI
waits for it: by default it runs one test per kind of hook and tool path. Tests marked
`vm_full` (a second tool on the same hook, a second listing, a second bpftrace count) run
with PYBPF_VM_FULL=1; without it they are deselected, not skipped."""

from __future__ import annotations

import pytest

from tests.vm import FULL


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    dropped = [it for it in items if it.get_closest_marker("vm_full")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [it for it in items if not it.get_closest_marker("vm_full")]
