"""Fixtures for the compiler tests."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def program_closed():
    """Collects the compiled programs a test loads (`track(prog)`) and checks at teardown
    that each is closed and gone from the kernel. (The global `no_leaks` check compares all
    of the kernel's object ids, which other processes on a shared machine change too.)"""
    from pybpf.sys import objects

    loaded: list[tuple[object, int]] = []

    def track(fn) -> None:
        prog = fn.load()
        loaded.append((fn, prog.id))

    yield track
    for fn, _ in loaded:
        fn.close()
    ids = {pid for _, pid in loaded}
    deadline = time.monotonic() + 3
    while ids & set(objects.ids("prog")) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = ids & set(objects.ids("prog"))
    assert not left, f"programs {sorted(left)} are still loaded"
