"""Probing the function and BTF hooks by doing it: load a trivial program, attach it to a
function every kernel has, detach. Results are cached per process.

    >>> from pybpf.link.probe import hook
    >>> hook("fentry")
    HookProbe(name='fentry', available=False, reason='fentry/fexit are not available ...')
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from pybpf.sys import BPFError, BPFPermissionError, NotSupportedError, featurecache

#: the hooks probed here, in report order
HOOKS = ("kprobe", "kretprobe", "kprobe_multi", "fentry", "fexit", "fmod_ret", "tp_btf")

# Targets: bpf_fentry_test1 and bpf_modify_return_test exist for BPF's own tests (net/bpf,
# noinline, traceable; the second is on the error-injection list); vfs_read is the fallback.
_FUNCTIONS = ("bpf_fentry_test1", "vfs_read")
# fmod_ret: error-injection functions (kernels with CONFIG_FUNCTION_ERROR_INJECTION, which
# Debian's 6.1 lacks) or any security_* hook
_MODIFIABLE = ("bpf_modify_return_test", "security_task_getsid")
_TRACEPOINT = "sched_switch"
_RETURN_ZERO = "r0 = 0\nexit"


@dataclass(frozen=True)
class HookProbe:
    name: str
    available: bool | None  # None: could not tell (no privilege)
    reason: str = ""  # why it is missing (or could not be probed), with advice
    detail: str = ""  # the kernel's lack alone (NotSupportedError.reason), when known


def hook(name: str) -> HookProbe:
    """Probe hook `name` (one of HOOKS) once per process (again while it cannot be told for
    want of privilege)."""
    if name not in HOOKS:
        raise ValueError(f"unknown hook {name!r}; one of {', '.join(HOOKS)}")
    return featurecache.answer(("hook", name), lambda: _run(name),
                               lambda found: found.available is not None)


def clear_cache() -> None:
    featurecache.clear()


def _run(name: str) -> HookProbe:
    try:
        _PROBES[name]()
    except BPFPermissionError as e:
        if os.geteuid() != 0:
            return HookProbe(name, None, f"cannot probe without privilege: {e}")
        return HookProbe(name, False, str(e))
    except NotSupportedError as e:
        return HookProbe(name, False, str(e), e.reason)
    except (BPFError, OSError, LookupError, ValueError) as e:
        return HookProbe(name, False, str(e))
    return HookProbe(name, True)


def _code() -> list[object]:
    from pybpf import asm

    return list(asm.assemble(_RETURN_ZERO))


def _first_function(candidates: tuple[str, ...]) -> str:
    from pybpf.btf import BTFError, kernel_btf

    try:
        btf = kernel_btf()
    except BTFError:
        return candidates[-1]
    for name in candidates:
        if btf.find_all(name, "func"):
            return name
    return candidates[-1]


def _kprobe(retprobe: bool) -> None:
    from pybpf.link.kprobe import kprobe, kprobes_available, not_available
    from pybpf.program import Program

    if not kprobes_available():
        raise not_available()
    with Program.load("kprobe", _code(), name="pybpf_probe") as prog:
        kprobe(prog, _first_function(_FUNCTIONS), retprobe=retprobe).close()


def _kprobe_multi() -> None:
    from pybpf.link.kprobe_multi import kprobe_multi
    from pybpf.program import Program

    with Program.load("kprobe", _code(), name="pybpf_probe", attach="trace_kprobe_multi") as prog:
        kprobe_multi(prog, [_first_function(_FUNCTIONS)], fallback=False).close()


def _tracing(kind: str, candidates: tuple[str, ...]) -> Callable[[], None]:
    def run() -> None:
        from pybpf.btf import BTFError, kernel_btf
        from pybpf.link.errors import AttachError
        from pybpf.link.tracing import trace

        if kind == "tp_btf":
            targets = [_TRACEPOINT]
        else:
            try:
                btf = kernel_btf()
                targets = [c for c in candidates if btf.find_all(c, "func")] or [candidates[-1]]
            except BTFError:
                targets = [candidates[-1]]
        for i, target in enumerate(targets):
            try:
                prog, link = trace(kind, _code(), target, name="pybpf_probe")
            except AttachError:  # this target cannot take it: try the next one
                if i == len(targets) - 1:
                    raise
                continue
            link.close()
            prog.close()
            return

    return run


_PROBES: dict[str, Callable[[], None]] = {
    "kprobe": lambda: _kprobe(False),
    "kretprobe": lambda: _kprobe(True),
    "kprobe_multi": _kprobe_multi,
    "fentry": _tracing("fentry", _FUNCTIONS),
    "fexit": _tracing("fexit", _FUNCTIONS),
    "fmod_ret": _tracing("fmod_ret", _MODIFIABLE),
    "tp_btf": _tracing("tp_btf", ()),
}
