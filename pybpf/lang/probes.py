"""Probe specifications: parse `type:target:...`, expand wildcards, and name the program type
each needs. Also `pybpf trace -l` (listing probes)."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler.errors import Loc
from pybpf.lang.errors import LangError

ALIASES = {
    "t": "tracepoint", "rt": "rawtracepoint", "p": "profile", "i": "interval",
    "s": "software", "h": "hardware", "u": "uprobe", "ur": "uretprobe", "k": "kprobe",
    "kr": "kretprobe", "f": "kfunc", "fr": "kretfunc", "fentry": "kfunc",
    "fexit": "kretfunc", "U": "usdt", "w": "watchpoint",
    "begin": "BEGIN", "end": "END",
}
UNAVAILABLE = {
    "watchpoint": "watchpoints are not supported by pybpf trace",
    "asyncwatchpoint": "watchpoints are not supported by pybpf trace",
    "iter": "iterator probes are not supported by pybpf trace",
}
#: probe kind -> the compiler's hook kind (pybpf.compiler.hooks): program type and attach
HOOK_KIND = {"BEGIN": "raw_tracepoint", "END": "raw_tracepoint", "tracepoint": "tracepoint",
             "rawtracepoint": "raw_tracepoint", "profile": "perf_event",
             "interval": "perf_event", "software": "perf_event", "hardware": "perf_event",
             "uprobe": "uprobe", "uretprobe": "uretprobe", "kprobe": "kprobe",
             "kretprobe": "kretprobe", "kfunc": "fentry", "kretfunc": "fexit",
             "usdt": "usdt"}
KERNEL_FUNCTION = ("kprobe", "kretprobe", "kfunc", "kretfunc")
UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "hz": 0}


@dataclass(frozen=True)
class Probe:
    """One attachable probe after expansion."""

    kind: str  # BEGIN END tracepoint rawtracepoint profile interval software hardware uprobe..
    target: str = ""  # tracepoint group, uprobe path, perf event name
    name: str = ""  # tracepoint name, raw tracepoint name, uprobe symbol
    freq: int = 0  # profile/interval: hz
    period: int = 0  # ns for profile/interval, count for software/hardware
    offset: int = 0  # kprobe: bytes into the function
    wild: bool = field(default=False, compare=False)  # one of a wildcard's functions
    provider: str = ""  # usdt: the probe's provider
    site: Any = field(default=None, compare=False)  # usdt: its pybpf.usdt.UsdtProbe

    @property
    def hook_kind(self) -> str:
        return HOOK_KIND[self.kind]

    @property
    def prog_type(self) -> str:
        from pybpf.compiler.hooks import hook

        return hook(self.hook_kind).prog_type

    @property
    def full_name(self) -> str:
        """The `probe` builtin's text (bpftrace's canonical form)."""
        if self.kind in ("BEGIN", "END"):
            return self.kind
        if self.kind == "usdt":
            return f"usdt:{self.target}:{self.provider}:{self.name}"
        if self.kind in ("tracepoint", "uprobe", "uretprobe"):
            return f"{self.kind}:{self.target}:{self.name}"
        if self.kind in ("kprobe", "kretprobe"):
            mod = f"{self.target}:" if self.target else ""  # attach.kprobe takes mod:func
            return f"{self.kind}:{mod}{self.name}" + (f"+{self.offset}" if self.offset else "")
        if self.kind in ("kfunc", "kretfunc"):  # bpftrace 0.17 lists kfunc:vmlinux:vfs_read
            return f"{self.kind}:{self.target or 'vmlinux'}:{self.name}"
        if self.kind == "rawtracepoint":
            return f"rawtracepoint:{self.name}"
        if self.kind in ("profile", "interval"):
            return f"{self.kind}:{self.target}:{self.name}"
        return f"{self.kind}:{self.target}:{self.period}"


def _int(text: str, loc: Loc, what: str) -> int:
    try:
        v = int(text.replace("_", ""), 0)
    except ValueError:
        raise LangError(f"{what} must be an integer, not {text!r}", loc) from None
    if v <= 0:
        raise LangError(f"{what} must be positive", loc)
    return v


def spec_kind(spec: str) -> tuple[str, str]:
    """(probe kind, the rest) of a specification, aliases resolved: ("BEGIN", "") for
    BEGIN, ("kprobe", "vfs_read") for "k:vfs_read"."""
    if spec in ("BEGIN", "END", "begin", "end"):
        return spec.upper(), ""
    kind, _, rest = spec.partition(":")
    return ALIASES.get(kind, kind), rest


def expand(spec: str, loc: Loc) -> list[Probe]:
    """The probes a specification names (wildcards expanded); LangError when unknown."""
    kind, rest = spec_kind(spec)
    if kind in ("BEGIN", "END"):
        return [Probe(kind)]
    if kind in UNAVAILABLE:
        raise LangError(UNAVAILABLE[kind], loc)
    if kind == "tracepoint":
        return _tracepoints(rest, loc)
    if kind in KERNEL_FUNCTION:
        return _functions(kind, rest, spec, loc)
    if kind == "rawtracepoint":
        name = rest.rsplit(":", 1)[-1]
        if not name:
            raise LangError("rawtracepoint needs a name: rawtracepoint:sched_switch", loc)
        return [Probe(kind, name=name)]
    if kind in ("profile", "interval"):
        parts = rest.split(":")
        if len(parts) == 1:
            parts = ["hz", parts[0]] if kind == "profile" else ["s", parts[0]]
        unit, value = parts[0], parts[-1]
        if unit not in UNITS or len(parts) != 2:
            raise LangError(f"{kind} probes take {kind}:hz:N, {kind}:s:N, {kind}:ms:N or "
                            f"{kind}:us:N", loc)
        n = _int(value, loc, f"the {kind} rate")
        if unit == "hz":
            return [Probe(kind, unit, value, freq=n)]
        return [Probe(kind, unit, value, period=n * UNITS[unit])]
    if kind in ("software", "hardware"):
        from pybpf.link.perf_event import HARDWARE_EVENTS, SOFTWARE_EVENTS

        event, _, count = rest.partition(":")
        events = SOFTWARE_EVENTS if kind == "software" else HARDWARE_EVENTS
        if event not in events:
            raise LangError(f"unknown {kind} event {event!r}", loc,
                            f"Known events: {', '.join(sorted(events))}.")
        default = 1000 if kind == "software" else 1000000
        period = _int(count, loc, f"the {kind} event count") if count else default
        return [Probe(kind, event, period=period)]
    if kind in ("uprobe", "uretprobe"):
        return _uprobes(kind, rest, loc)
    if kind == "usdt":
        from pybpf.lang import usdt

        return usdt.expand(rest, loc)
    raise LangError(f"unknown probe type {spec.split(':')[0]!r}", loc,
                    "Probe types: BEGIN, END, tracepoint, rawtracepoint, profile, interval, "
                    "software, hardware, uprobe, uretprobe, kprobe, kretprobe, kfunc "
                    "(fentry), kretfunc (fexit), usdt.")


def _functions(kind: str, rest: str, spec: str, loc: Loc) -> list[Probe]:
    """kprobe:FUNC[+OFFSET], kretprobe:FUNC, kfunc:[MODULE:]FUNC, kretfunc:[MODULE:]FUNC;
    FUNC may be a wildcard (one probe per matching traceable function)."""
    from pybpf.lang import kfuncs

    module, _, name = rest.rpartition(":")
    offset = 0
    if kind in ("kprobe", "kretprobe") and "+" in name:
        name, _, off = name.partition("+")
        if kind == "kretprobe":
            raise LangError("a kretprobe attaches to the function itself and takes no offset",
                            loc)
        try:
            offset = int(off, 0)
        except ValueError:
            raise LangError(f"invalid kprobe offset {off!r}", loc) from None
    if not name:
        raise LangError(f"{kind} probes are written {kind}:function", loc)
    if module == "vmlinux":
        module = ""
    error = kfuncs.not_available(kind, loc)
    if error is not None:
        raise error
    if kfuncs.is_wild(name):
        if module:
            raise LangError(f"wildcards are for kernel functions, not module {module!r} ones",
                            loc)
        return [Probe(kind, name=n, wild=True) for n in kfuncs.expand(kind, name, spec, loc)]
    if kind in ("kfunc", "kretfunc"):
        kfuncs.target(name, module, loc)  # an unknown function is a positioned error
    elif not rest.count(":"):
        kfuncs.check_kprobe_target(name, spec, loc)
    return [Probe(kind, module, name, offset=offset)]


def _tracepoints(rest: str, loc: Loc) -> list[Probe]:
    from pybpf.btf import list_tracepoints

    group, _, name = rest.partition(":")
    if not group or not name:
        raise LangError("tracepoints are written tracepoint:group:name", loc)
    if "*" in rest or "?" in rest or "[" in rest:
        found = list_tracepoints(f"{group}:{name}")
        if not found:
            raise LangError(f"no tracepoints match {rest!r}", loc,
                            "`pybpf trace -l 'tracepoint:*'` lists them.")
        return [Probe("tracepoint", *tp.split(":", 1)) for tp in found]
    if not os.path.isdir(_events_dir(group, name)):
        from pybpf.btf.tracefs import access_error

        denied = access_error()
        if denied is not None:  # it may exist: say why it cannot be seen
            raise LangError(f"cannot read tracepoint {group}:{name}: {denied}", loc)
        raise LangError(f"unknown tracepoint {group}:{name}", loc,
                        "`pybpf trace -l 'tracepoint:*'` lists them.")
    return [Probe("tracepoint", group, name)]


def _events_dir(group: str, name: str) -> str:
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(f"{root}/events"):
            return f"{root}/events/{group}/{name}"
    from pybpf.btf.tracefs import tracepoint_format

    try:
        tracepoint_format(group, name)
        return "/"
    except Exception:
        return "/nonexistent"


def _uprobes(kind: str, rest: str, loc: Loc) -> list[Probe]:
    from pybpf.symbols import SymbolNotFoundError, elf_symbols, resolve_binary

    path, _, sym = rest.rpartition(":")
    if not path or not sym:
        raise LangError(f"{kind} probes are written {kind}:/path/to/binary:function", loc)
    try:
        binary = resolve_binary(path)
    except (SymbolNotFoundError, OSError, LookupError) as e:
        raise LangError(f"{kind}: cannot find binary {path!r}: {e}", loc) from None
    if sym.startswith('"') and '"' in sym[1:]:  # uprobe:/bin/bash:"echo_builtin"+0
        name, _, after = sym[1:].partition('"')
        sym = name + after
    if sym.isdigit() or sym.lower().startswith("0x"):  # an address of the binary, as bpftrace
        try:
            found = elf_symbols(binary).lookup(int(sym, 0))
        except (SymbolNotFoundError, OSError, ValueError) as e:
            raise LangError(f"{kind}: cannot read symbols of {binary}: {e}", loc) from None
        if found is None:
            raise LangError(f"Could not resolve address: {path}:{int(sym, 0):#x}", loc)
        func, off = found
        return [Probe(kind, binary, f"{func.name}+{off}" if off else func.name)]
    if any(c in sym for c in "*?["):
        try:
            names = sorted({s for s in _function_names(elf_symbols(binary))
                            if fnmatch.fnmatchcase(s, sym)})
        except (SymbolNotFoundError, OSError) as e:
            raise LangError(f"{kind}: cannot read symbols of {binary}: {e}", loc) from None
        if not names:
            raise LangError(f"no functions of {binary} match {sym!r}", loc)
        return [Probe(kind, binary, n) for n in names]
    from pybpf.link.uprobe import resolve_offset

    try:  # a function the binary lacks is said here, at the probe's position
        resolve_offset(binary, sym)
    except (SymbolNotFoundError, OSError, LookupError) as e:
        raise LangError(f"{kind}: {e}", loc) from None
    return [Probe(kind, binary, sym)]


def expand_specs(specs: list[tuple[str, Loc]], warn: Any = None,
                 listed: frozenset[int] = frozenset()) -> list[tuple[int, Probe]]:
    """The probes of every spec (index of the spec, probe). As bpftrace, a spec that cannot be
    resolved on this kernel (a kprobe where there are none, a missing tracepoint or function)
    is skipped with a warning when probes other than BEGIN/END remain; when none would remain
    the first such error is raised, unless the spec is one of a probe's list of attach
    points (`listed`: xfsdist.bt's `kprobe:xfs_file_read_iter, ...` without xfs loaded)."""
    out: list[tuple[int, Probe]] = []
    errors: list[LangError] = []
    alone: list[LangError] = []  # of a spec that is its probe's only attach point
    for i, (text, loc) in enumerate(specs):
        try:
            out.extend((i, p) for p in expand(text, loc))
        except LangError as e:
            if not _resolvable_elsewhere(e):
                raise
            errors.append(e)
            if i not in listed:
                alone.append(e)
    if errors:
        # bpftrace runs a script whose user functions are all missing (threadsnoop.bt on a
        # libc without pthread_create in libpthread) with what remains, BEGIN and END
        fatal = [e for e in alone if "is not in /" not in e.message]
        if fatal and not any(p.kind not in ("BEGIN", "END") for _, p in out):
            raise fatal[0]
        for e in errors:
            text = f"{e.loc.file}:{e.loc.line}:{e.loc.col}: WARNING: {e.message.splitlines()[0]}"
            if warn is not None:
                warn(text + ": skipping this probe")
    return out


def _resolvable_elsewhere(e: LangError) -> bool:
    """Errors of the probe's target on this kernel or binary (not of how it is written)."""
    m = e.message
    return any(w in m for w in ("not available on this kernel", "unknown tracepoint",
                                "is not in", "no functions of", "cannot find binary",
                                "unknown kernel function", "not traceable", "no such function",
                                "no tracepoints match", "no kernel function matches",
                                "not found", "kprobe blacklist"))


def _function_names(table: object) -> list[str]:
    for attr in ("names", "functions", "symbols"):
        v = getattr(table, attr, None)
        if v is not None:
            v = v() if callable(v) else v
            return [x if isinstance(x, str) else getattr(x, "name", str(x)) for x in v]
    return []


# ------------------------------------------------------------------------------------------
def list_probes(pattern: str | None) -> list[str]:
    """`-l`: tracepoints, software and hardware events, uprobes of a binary, and kernel
    functions (kprobe:, kretprobe:, kfunc:, kretfunc:) where this kernel can attach them."""
    from pybpf.btf import list_tracepoints
    from pybpf.link.perf_event import HARDWARE_EVENTS, SOFTWARE_EVENTS

    pattern = pattern or "*"
    kind, _, rest = pattern.partition(":")
    kind = ALIASES.get(kind, kind)
    if kind in ("uprobe", "uretprobe") and rest:
        from pybpf.symbols import elf_symbols, resolve_binary

        path, _, sym = rest.rpartition(":")
        if not path:
            path, sym = rest, "*"
        binary = resolve_binary(path)
        return [f"uprobe:{binary}:{n}" for n in sorted(set(_function_names(elf_symbols(binary))))
                if fnmatch.fnmatchcase(n, sym or "*")]
    if kind in KERNEL_FUNCTION and rest:
        return _list_functions(kind, rest)
    if kind == "usdt" and rest:
        from pybpf.lang import usdt

        return usdt.list_probes(rest)
    out = [f"tracepoint:{tp}" for tp in list_tracepoints("*")]
    out += [f"software:{e}:" for e in SOFTWARE_EVENTS]
    out += [f"hardware:{e}:" for e in HARDWARE_EVENTS]
    if kind not in ALIASES.values() or kind in KERNEL_FUNCTION:  # "*", "vfs_read*", "kprobe"
        from pybpf.lang import kfuncs

        for k in KERNEL_FUNCTION:
            if kfuncs.missing_reason(k) is None:
                out += [_function_name(k, n) for n in kfuncs.candidates(k)]
    full = pattern if ":" in pattern or "*" in pattern else f"*{pattern}*"
    if kind in ALIASES.values() and rest:
        full = f"{kind}:{rest}"
    return [p for p in out if fnmatch.fnmatchcase(p, full)]


class ProbesMissing(LookupError):
    """`-l 'kprobe:...'` on a kernel without kprobes (the message says why)."""


def _function_name(kind: str, name: str) -> str:
    return f"{kind}:vmlinux:{name}" if kind in ("kfunc", "kretfunc") else f"{kind}:{name}"


def _list_functions(kind: str, rest: str) -> list[str]:
    """`-l 'kprobe:tcp_*'`, `-l 'kfunc:tcp_*'` (or 'kfunc:vmlinux:tcp_*'): the matching
    functions, in bpftrace's form; ProbesMissing on a kernel without these probes."""
    from pybpf.compiler.errors import NO_LOC
    from pybpf.lang import kfuncs

    error = kfuncs.not_available(kind, NO_LOC)
    if error is not None:
        raise ProbesMissing(f"{error.message}. {error.hint}")
    module, _, name = rest.rpartition(":")
    if module not in ("", "vmlinux", "*"):
        return []  # functions of modules are not listed
    return [_function_name(kind, n) for n in kfuncs.match(kind, name or "*")]
