"""Shared fixtures: the kernel-objects leak check."""

from __future__ import annotations

import gc
import os
import time

import pytest


def kernel_object_ids() -> dict[str, set[int]]:
    from pybpf.sys import objects

    return {kind: set(objects.ids(kind)) for kind in ("prog", "map", "link")}


def own_objects() -> set[str]:
    """The BPF objects and perf events this process holds file descriptors for."""
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if not target.startswith("anon_inode:"):
                continue
            if "perf_event" in target:
                held.add(f"perf_event fd {fd}")
                continue
            with open(f"/proc/self/fdinfo/{fd}") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("prog_id", "map_id", "link_id"):
                        held.add(f"{key[:-3]} {value.strip()}")
        except OSError:
            continue
    return held


@pytest.fixture
def no_leaks():
    """Asserts that the test closes every program, map, link and perf event it opened (by
    this process's file descriptors). Under CI, where tests run alone, it also asserts that
    the kernel's program/map/link id lists are back to what they were."""
    global_check = bool(os.environ.get("CI"))
    before_own = own_objects()
    before = kernel_object_ids() if global_check else {}
    yield
    gc.collect()
    # the kernel frees programs after an RCU grace period, and their maps after that: wait
    deadline = time.monotonic() + 3
    while True:
        leaked_own = own_objects() - before_own
        after = kernel_object_ids() if global_check else {}
        leaked = {k: sorted(after[k] - before[k]) for k in before if after[k] - before[k]}
        if (not leaked_own and not leaked) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked_own, f"the test left open: {sorted(leaked_own)}"
    assert not leaked, f"the test left in the kernel: {leaked}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Byte-compile the package once. Where PYTHONDONTWRITEBYTECODE is set (as on CI
    machines) no import writes a .pyc, so each of the suite's ~2,000 `python -m pybpf.cli`
    children would otherwise compile every module from source again: ~1.1 s of 1.5 s per
    start measured here. compileall writes the caches whatever that variable says."""
    import compileall
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for folder in ("pybpf", "tests"):
        compileall.compile_dir(str(root / folder), quiet=2)


# The reliability suite's long run (five minutes of tools under a steady load) starts when the
# session has collected its tests, in a thread, so that its minutes overlap with the rest of
# the suite; tests/reliability/test_longrun.py then waits for it and checks the series.
LONG_RUN: dict[str, object] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    if os.geteuid() != 0 or session.config.option.collectonly or \
            not any("test_longrun.py" in item.nodeid for item in session.items):
        return
    import threading

    from tests.reliability.longrun import measure

    seconds = float(os.environ.get("PYBPF_LONGRUN_SECONDS", "300"))

    def run() -> None:
        try:
            LONG_RUN["series"] = measure(seconds, interval=min(5.0, seconds / 20))
        except BaseException as e:  # reported by the test
            LONG_RUN["error"] = e

    thread = threading.Thread(target=run, name="pybpf-long-run", daemon=True)
    LONG_RUN.update(seconds=seconds, thread=thread)
    thread.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    """A session that ends before the long run did (interrupted, -x) must not leave its tools
    and load running: end this process's children that the long run started."""
    thread = LONG_RUN.get("thread")
    if thread is None or not thread.is_alive():  # type: ignore[attr-defined]
        return
    import signal

    me = str(os.getpid())
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ")
        except OSError:
            continue
        if ppid == me and (b"pybpf.cli" in cmd or b"os.getppid()" in cmd):
            os.kill(int(pid), signal.SIGINT if b"pybpf.cli" in cmd else signal.SIGKILL)
