"""Kernel functions for `kprobe:`, `kretprobe:`, `kfunc:` and `kretfunc:` probes: whether this
kernel can attach them (with pybpf.features' reason when not), which functions a wildcard
names, and the BTF prototype that types `args->name` and `retval`."""

from __future__ import annotations

import fnmatch
import functools
import os
from typing import Any

from pybpf.compiler.errors import Loc
from pybpf.lang.errors import LangError

#: one program per function: a wildcard may name at most this many
MAX_FUNCTIONS = 500
MAX_TRAMPOLINE_ARGS = 6
#: probe kind -> the hook pybpf.features probes for it
HOOK = {"kprobe": "kprobe", "kretprobe": "kretprobe", "kfunc": "fentry", "kretfunc": "fexit"}
LABEL = {"kprobe": "kprobes", "kretprobe": "kretprobes", "kfunc": "kfunc/fentry probes",
         "kretfunc": "kretfunc/fexit probes"}
INSTEAD = {
    "kprobe": "Use a tracepoint instead (pybpf trace -l 'tracepoint:*'), or a raw tracepoint.",
    "kretprobe": "Use a tracepoint instead, such as tracepoint:syscalls:sys_exit_* "
                 "(args.ret is the return value).",
    "kfunc": "Use kprobe:FUNCTION where kprobes work, or a tracepoint "
             "(pybpf trace -l 'tracepoint:*').",
    "kretfunc": "Use kretprobe:FUNCTION where kprobes work, or a tracepoint such as "
                "tracepoint:syscalls:sys_exit_*.",
}


def _missing(kind: str) -> tuple[str, str] | None:
    """(why `kind` probes cannot run here, with advice; the kernel's lack alone, "" when not
    known), or None: they can, or it could not be told without privilege (loading will
    say)."""
    if kind in ("kprobe", "kretprobe"):
        from pybpf.link.kprobe import NOT_AVAILABLE, WHY_MISSING, kprobes_available

        if not kprobes_available():  # needs no privilege to tell
            return NOT_AVAILABLE, WHY_MISSING
    else:  # trampolines need the kernel's BTF: an unusable BTF file is said as such
        from pybpf.btf import kernel_btf

        kernel_btf()
    from pybpf.link.probe import hook

    found = hook(HOOK[kind])
    if found.available is False:
        return found.reason or f"{HOOK[kind]} is not available", found.detail
    return None


def missing_reason(kind: str) -> str | None:
    """Why `kind` probes cannot run here (None: they can, or it could not be told without
    privilege and loading will say)."""
    missing = _missing(kind)
    return missing[0] if missing else None


def not_available(kind: str, loc: Loc) -> LangError | None:
    """The positioned one-line error for `kind` probes on a kernel without them, or None."""
    missing = _missing(kind)
    if missing is None:
        return None
    reason, detail = missing
    head = f"{LABEL[kind]} are not available on this kernel"
    msg = f"{head} ({detail})" if detail else f"{head}: {reason}"
    return LangError(" ".join(msg.split()), loc, INSTEAD[kind])


# ------------------------------------------------------------------------------------------
# function names
@functools.cache
def traceable() -> tuple[str, ...]:
    """Kernel (not module) functions kprobes can hook: tracefs available_filter_functions
    without the kprobe blacklist; /proc/kallsyms text symbols when tracefs is unreadable."""
    try:
        from pybpf.link.kprobe_multi import traceable_functions

        names = traceable_functions()
    except (OSError, LookupError, ValueError, Exception):  # noqa: BLE001 - any: use kallsyms
        names = _kallsyms()
    bad = _blacklist()
    # gcc's split-off parts of a function (name.part.N) are left out, as bpftrace does
    return tuple(sorted({n for n in names if n not in bad and ".part." not in n}))


def _kallsyms() -> list[str]:
    out = []
    try:
        with open("/proc/kallsyms") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[1] in "tT":
                    out.append(parts[2])
    except OSError:
        pass
    return out


def _blacklist() -> set[str]:
    """Functions kprobes refuse (debugfs kprobes/blacklist: "start-end name")."""
    for root in ("/sys/kernel/debug", "/sys/kernel/tracing/.."):
        path = os.path.join(root, "kprobes", "blacklist")
        try:
            with open(path) as f:
                return {p[1] for p in (line.split() for line in f) if len(p) >= 2}
        except OSError:
            continue
    return set()


@functools.cache
def btf_functions() -> frozenset[str]:
    """Functions the kernel's BTF describes (fentry/fexit need a prototype)."""
    from pybpf.btf import BTFError, kernel_btf

    try:
        return frozenset(kernel_btf().names("func"))
    except (BTFError, OSError):
        return frozenset()


def candidates(kind: str) -> list[str]:
    """Every function a `kind` probe can name here (kfunc: with a BTF prototype; the
    argument count is checked by `match`)."""
    names = traceable()
    if kind in ("kfunc", "kretfunc"):
        btf = btf_functions()
        return [n for n in names if n in btf and "." not in n]
    return list(names)


def is_wild(name: str) -> bool:
    return any(c in name for c in "*?[")


def match(kind: str, pattern: str) -> list[str]:
    found = [n for n in candidates(kind) if fnmatch.fnmatchcase(n, pattern)]
    if kind in ("kfunc", "kretfunc"):
        found = [n for n in found if trampoline_ok(n)]
    return found


def trampoline_ok(name: str) -> bool:
    """Whether BPF trampolines take `name`'s arguments: at most MAX_TRAMPOLINE_ARGS u64
    slots (x86-64 before Linux 6.6 saves six argument registers; bpftrace lists the same),
    and no variable arguments."""
    p = proto(name)
    if p is None:
        return False
    if getattr(p, "variadic", False):
        return False
    params = list(getattr(p, "params", ()))
    slots = 0
    for prm in params:
        try:
            size = prm.type.resolve().size
        except Exception:  # noqa: BLE001 - unsized: one slot
            size = 8
        slots += max(1, (size + 7) // 8)
    return slots <= MAX_TRAMPOLINE_ARGS


def expand(kind: str, pattern: str, spec: str, loc: Loc) -> list[str]:
    """The functions `pattern` names (a LangError when none, or too many)."""
    found = match(kind, pattern)
    if not found:
        raise LangError(f"no kernel function matches {spec!r}", loc,
                        f"`pybpf trace -l '{kind}:*'` lists them.")
    if len(found) > MAX_FUNCTIONS:
        raise LangError(f"{spec!r} matches {len(found)} kernel functions; pybpf trace attaches "
                        f"one program per function and takes at most {MAX_FUNCTIONS}: narrow "
                        "the pattern", loc, f"`pybpf trace -l '{spec}'` lists them.")
    return found


def check_kprobe_target(name: str, spec: str, loc: Loc) -> None:
    """A clear error for a function kprobes cannot hook (when the lists are readable)."""
    names = traceable()
    if not names or name in names:
        return
    if name in _blacklist():
        raise LangError(f"{spec}: {name} is on the kernel's kprobe blacklist", loc)
    if name not in set(_kallsyms()):
        near = [n for n in names if n.startswith(name[:4])][:3] if len(name) >= 4 else []
        hint = ("Did you mean " + ", ".join(near) + "? " if near else "") + \
            "`pybpf trace -l 'kprobe:PATTERN'` lists the functions."
        raise LangError(f"unknown kernel function {name!r} (not traceable: non-existing, "
                        "inlined or notrace)", loc, hint)


# ------------------------------------------------------------------------------------------
# prototypes
@functools.cache
def _target(name: str) -> Any:
    from pybpf.link import btf_ids

    return btf_ids.function(name)


def target(name: str, module: str, loc: Loc) -> Any:
    """The BTF target (pybpf.link.btf_ids.BTFTarget) of kfunc `module:name`."""
    from pybpf.sys import BPFError

    full = f"{module}:{name}" if module else name
    try:
        return _target(full)
    except (BPFError, LookupError, ValueError, OSError) as e:
        raise LangError(str(e).splitlines()[0] if str(e) else f"unknown kernel function "
                                                                f"{full!r}", loc,
                        "`pybpf trace -l 'kfunc:PATTERN'` lists the functions.") from None


def proto(name: str) -> Any:
    """The BTF prototype of kernel function `name`, or None (no BTF for it)."""
    from pybpf.btf import BTFError, BTFFileError, kernel_btf

    try:
        return kernel_btf().func(name).proto
    except BTFFileError:
        raise  # the kernel's BTF cannot be read at all: not "no prototype"
    except (BTFError, KeyError, OSError, LookupError):
        return None
