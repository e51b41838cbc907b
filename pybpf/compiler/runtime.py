"""The helper functions users import (`from pybpf import pid, comm, submit`): inside compiled
code the compiler replaces each by its BPF helper; called as plain Python (`f.py(...)`) they
do the closest user-space equivalent, so the same function runs in both worlds."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

_submitted: list[Any] = []


def _marks(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__bpf_builtin__ = name  # type: ignore[attr-defined]
        return fn

    return mark


@_marks("pid")
def pid() -> int:
    """The process id (the kernel's tgid) of the current task."""
    return os.getpid()


@_marks("tid")
def tid() -> int:
    """The thread id (the kernel's pid) of the current task."""
    return threading.get_native_id()


@_marks("uid")
def uid() -> int:
    return os.getuid()


@_marks("gid")
def gid() -> int:
    return os.getgid()


@_marks("comm")
def comm() -> str:
    """The current task's command name (16 bytes, NUL-terminated)."""
    try:
        with open("/proc/self/comm") as f:
            return f.read().strip()[:15]
    except OSError:
        return ""


@_marks("ktime_ns")
def ktime_ns() -> int:
    """Monotonic time in nanoseconds (the kernel's ktime_get_ns)."""
    return time.monotonic_ns()


@_marks("cpu")
def cpu() -> int:
    return 0


@_marks("cgroup_id")
def cgroup_id() -> int:
    return 0


@_marks("prandom")
def prandom() -> int:
    return int.from_bytes(os.urandom(4), "little")


@_marks("current_task")
def current_task() -> Any:
    raise RuntimeError("current_task() exists only inside compiled programs")


@_marks("kstack")
def kstack() -> int:
    return -1


@_marks("ustack")
def ustack() -> int:
    return -1


@_marks("submit")
def submit(event: Any) -> int:
    """Send a struct to the program's ring buffer (in plain Python: collected in a list)."""
    _submitted.append(event)
    return 0


@_marks("printk")
def printk(fmt: str, *args: int) -> int:
    """Print to the kernel's trace pipe (bpf_trace_printk); in plain Python to stdout."""
    text = fmt
    for a in args:
        for spec in ("%llu", "%lld", "%lu", "%ld", "%u", "%d", "%x", "%llx"):
            if spec in text:
                text = text.replace(spec, format(int(a), "x" if "x" in spec else "d"), 1)
                break
    print(text, end="" if text.endswith("\n") else "\n")
    return len(text)


@_marks("user_str")
def user_str(addr: int, n: int = 64) -> str:
    """The string at a user-space address (compiled code only)."""
    raise RuntimeError("user_str() reads memory and exists only in compiled programs")


@_marks("kernel_str")
def kernel_str(addr: int, n: int = 64) -> str:
    raise RuntimeError("kernel_str() reads memory and exists only in compiled programs")


@_marks("cast")
def cast(ptr: Any, type_name: str) -> Any:
    """cast(ptr, "struct tcp_sock"): a kernel pointer seen as another type."""
    return ptr


BUILTIN_FUNCTIONS = {f.__name__: f for f in (pid, tid, uid, gid, comm, ktime_ns, cpu,
                                              cgroup_id, prandom, current_task, kstack,
                                              ustack, submit, printk, user_str,
                                              kernel_str, cast)}
