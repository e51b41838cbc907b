"""Test helper: a v1 memory cgroup with a small limit, nested in this process's own memory
cgroup, removed on exit (the processes in it must have ended)."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator

BASE = "/sys/fs/cgroup/memory"
_counter = itertools.count()


def available() -> str | None:
    if os.geteuid() != 0:
        return "memory cgroups need root"
    if not os.path.exists(f"{BASE}/memory.limit_in_bytes"):
        return "no cgroup v1 memory controller at /sys/fs/cgroup/memory"
    return None


def _own() -> str:
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                return path
    return "/"


@contextlib.contextmanager
def memory_cgroup(limit_bytes: int) -> Iterator[str]:
    """Yield the path of a new memory cgroup limited to `limit_bytes` (no swap)."""
    path = os.path.join(BASE + _own(), f"pybpf-test-{os.getpid()}-{next(_counter)}")
    os.mkdir(path)
    try:
        with open(f"{path}/memory.limit_in_bytes", "w") as f:
            f.write(str(limit_bytes))
        with contextlib.suppress(OSError):
            with open(f"{path}/memory.memsw.limit_in_bytes", "w") as f:
                f.write(str(limit_bytes))
        yield path
    finally:
        deadline = time.monotonic() + 5
        while True:
            try:
                os.rmdir(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def join_code(path: str) -> str:
    """Python source that moves the running process into the cgroup at `path`."""
    return f"open({path + '/cgroup.procs'!r}, 'w').write(str(__import__('os').getpid()))\n"
