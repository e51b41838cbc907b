"""What this kernel offers, found by probing: program, map and attach types, helpers per
program type, and the hooks a tracer needs. This is what `pybpf features` prints."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pybpf.link import probe as hook_probe
from pybpf.sys import probe
from pybpf.sys.constants import MapType, ProgType

_PMU = "/sys/bus/event_source/devices"


@dataclass
class Report:
    prog_types: dict[str, bool | None] = field(default_factory=dict)
    map_types: dict[str, bool] = field(default_factory=dict)
    hooks: dict[str, bool | None] = field(default_factory=dict)
    helpers: dict[str, list[str]] = field(default_factory=dict)
    #: why each missing function/BTF hook is missing, and what to use instead
    missing: dict[str, str] = field(default_factory=dict)
    #: per hook: the capabilities a non-root user needs, and those this process lacks
    capabilities: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"program_types": self.prog_types, "map_types": self.map_types,
                "hooks": self.hooks, "missing": self.missing, "helpers": self.helpers,
                "capabilities": self.capabilities}


def _tracefs_has(name: str) -> bool:
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.exists(os.path.join(root, name)):
            return True
    return False


def hooks() -> dict[str, bool | None]:
    """Attach points, probed from sysfs/tracefs and the BPF object types they need; the
    function and BTF hooks (kprobe ... tp_btf) by loading and attaching a trivial program."""
    try:
        from pybpf.btf.tracefs import tracefs_root

        tracefs_root()  # mounts tracefs when it can
    except Exception:  # reported below as tracepoints missing
        pass
    btf = os.path.exists("/sys/kernel/btf/vmlinux")
    found: dict[str, bool | None] = {
        "btf": btf,
        "tracepoint": _tracefs_has("events") and probe.prog_type(ProgType.TRACEPOINT),
        "raw_tracepoint": probe.prog_type(ProgType.RAW_TRACEPOINT),
        "perf_event": probe.prog_type(ProgType.PERF_EVENT),
    }
    found.update({name: has(name) for name in hook_probe.HOOKS})
    found.update({
        "uprobe": os.path.exists(f"{_PMU}/uprobe") or _tracefs_has("uprobe_events"),
        "xdp": probe.prog_type(ProgType.XDP),
        "tc": probe.prog_type(ProgType.SCHED_CLS),
        "cgroup_skb": probe.prog_type(ProgType.CGROUP_SKB),
        "socket_filter": probe.prog_type(ProgType.SOCKET_FILTER),
        "ring_buffer": probe.map_type(MapType.RINGBUF),
        "perf_buffer": probe.map_type(MapType.PERF_EVENT_ARRAY),
    })
    for name, ptype in (("tracepoint", ProgType.TRACEPOINT), ("xdp", ProgType.XDP),
                        ("tc", ProgType.SCHED_CLS), ("cgroup_skb", ProgType.CGROUP_SKB),
                        ("raw_tracepoint", ProgType.RAW_TRACEPOINT),
                        ("perf_event", ProgType.PERF_EVENT)):
        if found[name] is False and probe.prog_type_refused(ptype):
            found[name] = None  # this user may not try: "?", not "no"
    return found


def has(hook: str) -> bool | None:
    """Whether this kernel can attach `hook` ("kprobe", "kretprobe", "kprobe_multi",
    "fentry", "fexit", "fmod_ret", "tp_btf"), by trying it once (cached); None when it could
    not be probed (no privilege)."""
    return hook_probe.hook(hook).available


def why_missing(hook: str) -> str | None:
    """The sentence saying why `hook` is missing here (None when it works)."""
    found = hook_probe.hook(hook)
    return None if found.available else found.reason


def best_function_hook(on_return: bool = False) -> str | None:
    """The best way to run a program on a kernel function's entry (or return) here:
    "fentry"/"fexit" (BTF-typed arguments, cheapest), else "kprobe"/"kretprobe", else None."""
    for name in (("fexit", "kretprobe") if on_return else ("fentry", "kprobe")):
        if has(name):
            return name
    return None


def best_tracepoint_hook() -> str:
    """"tp_btf" (BTF-typed raw arguments) where it works, else "raw_tracepoint"."""
    return "tp_btf" if has("tp_btf") else "raw_tracepoint"


def missing_hooks() -> dict[str, str]:
    """For each probed function/BTF hook this kernel lacks: the reason, with what to use."""
    return {name: why for name in hook_probe.HOOKS if (why := why_missing(name)) is not None}


def collect(with_helpers: bool = False) -> Report:
    report = Report()
    for t in ProgType:
        if t is not ProgType.UNSPEC:
            found = probe.prog_type(t)
            # "no" only when the kernel said so, not when this user may not try ("?")
            report.prog_types[t.name.lower()] = None if found is False and \
                probe.prog_type_refused(t) else found
    for m in MapType:
        if m is not MapType.UNSPEC:
            report.map_types[m.name.lower()] = probe.map_type(m)
    report.hooks = hooks()
    report.missing = missing_hooks()
    from pybpf.sys import capabilities

    held = capabilities.effective()
    report.capabilities = {
        hook: {"needs": list(capabilities.NEEDS[hook]),
               "lacking": capabilities.missing(hook, held)}
        for hook in report.hooks if hook in capabilities.NEEDS}
    if with_helpers:
        from pybpf import asm

        for t in ProgType:
            if report.prog_types.get(t.name.lower()) and t not in probe.NEEDS_TARGET:
                report.helpers[t.name.lower()] = [
                    name for hid, name in _helper_names(asm) if probe.helper(t, hid)
                ]
    return report


def _helper_names(asm: object) -> list[tuple[int, str]]:
    names = []
    for hid in range(1, 512):
        try:
            names.append((hid, asm.helper_name(hid)))  # type: ignore[attr-defined]
        except (KeyError, ValueError):
            continue
    return names
