"""The helper functions users import (`from pybpf import pid, comm, submit`): inside compiled
code the compiler replaces each by its BPF helper; called as plain Python (`f.py(...)`) they
do the closest user-space equivalent, so the same function runs in both worlds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pybpf.compiler import intrinsics

_submitted: list[Any] = []


def _marks(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__bpf_builtin__ = name  # type: ignore[attr-defined]
        return fn

    return mark


@_marks("comm")
def comm() -> str:
    """The current task's command name (16 bytes, NUL-terminated)."""
    try:
        with open("/proc/self/comm") as f:
            return f.read().strip()[:15]
    except OSError:
        return ""


@_marks("current_task")
def current_task() -> Any:
    raise RuntimeError("current_task() exists only inside compiled programs")


@_marks("log2_bucket")
def log2_bucket(v: int) -> int:
    """The log2 histogram bucket of v (as a u64): 0 holds 0, bucket k >= 1 holds values in
    [2^(k-1), 2^k)."""
    return (int(v) & (2**64 - 1)).bit_length()


@_marks("linear_bucket")
def linear_bucket(v: int, lo: int, hi: int, step: int) -> int:
    """The linear histogram bucket of v (as u64s): 0 below lo, 1 + (v - lo) // step inside
    [lo, hi), (hi - lo) // step + 1 at or above hi."""
    m = 2**64 - 1
    v, lo, hi, step = (int(x) & m for x in (v, lo, hi, step))

    def index(x: int) -> int:
        return ((x - lo) & m) // step + 1 if step else 1

    return 0 if v < lo else index(hi) if v >= hi else index(v)


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


def _scalar(name: str, scalar: intrinsics.Scalar) -> Callable[[], int]:
    def value() -> int:
        return scalar.python()

    value.__name__ = value.__qualname__ = name
    value.__doc__ = scalar.doc
    value.__bpf_builtin__ = name  # type: ignore[attr-defined]
    return value


# pid(), tid(), ktime_ns(), ...: one per helper builtin of the compiler
SCALARS: dict[str, Callable[[], int]] = {name: _scalar(name, s)
                                         for name, s in intrinsics.SCALARS.items()}
globals().update(SCALARS)

BUILTIN_FUNCTIONS = {**SCALARS, **{f.__name__: f for f in (
    comm, current_task, log2_bucket, linear_bucket, kstack, ustack, submit, printk,
    user_str, kernel_str, cast)}}
