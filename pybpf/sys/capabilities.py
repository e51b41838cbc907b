"""Which capabilities each kind of BPF use needs from a user who is not root, and which this
process holds. The kernel's rules (bpf(2) and perf_event_open(2)): loading any program or
map needs CAP_BPF; tracing program types (kprobe, tracepoint, raw tracepoint, perf event,
tracing) also CAP_PERFMON; networking types (XDP, TC, cgroup) CAP_NET_ADMIN; creating a
uprobe through the uprobe PMU needs CAP_SYS_ADMIN on current kernels (CAP_PERFMON was
enough from Linux 5.8 until a 2025 fix, backported to stable kernels, required
CAP_SYS_ADMIN again). Reading tracefs (tracepoint ids and formats) is file access: the
mount's mode and group, not a capability."""

from __future__ import annotations

CAPABILITIES = {"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21,
                "CAP_PERFMON": 38, "CAP_BPF": 39}

_TRACING = ("CAP_BPF", "CAP_PERFMON")
_NETWORK = ("CAP_BPF", "CAP_NET_ADMIN")
#: for each hook that `pybpf features` reports: the capabilities a non-root user needs
NEEDS: dict[str, tuple[str, ...]] = {
    "btf": (),
    "tracepoint": _TRACING,  # and read access to tracefs
    "raw_tracepoint": _TRACING,
    "tp_btf": _TRACING,
    "perf_event": _TRACING,
    "kprobe": _TRACING,
    "kretprobe": _TRACING,
    "kprobe_multi": _TRACING,
    "fentry": _TRACING,
    "fexit": _TRACING,
    "fmod_ret": _TRACING,
    "uprobe": (*_TRACING, "CAP_SYS_ADMIN"),
    "usdt": (*_TRACING, "CAP_SYS_ADMIN"),
    "xdp": _NETWORK,
    "tc": _NETWORK,
    "cgroup_skb": _NETWORK,
    "socket_filter": ("CAP_BPF", "CAP_NET_RAW"),  # the program, and a raw socket to attach
    "ring_buffer": ("CAP_BPF",),
    "perf_buffer": ("CAP_BPF",),
}
NOTES = {"tracepoint": "and read access to tracefs (its mount's mode and group)"}


def effective() -> set[str]:
    """The capabilities of :data:`CAPABILITIES` in this process's effective set."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    bits = int(line.split()[1], 16)
                    return {name for name, n in CAPABILITIES.items() if bits >> n & 1}
    except (OSError, ValueError):
        pass
    return set()


def missing(hook: str, held: set[str] | None = None) -> list[str]:
    """What this process lacks of what `hook` needs (CAP_SYS_ADMIN stands for all but the
    networking capabilities, as the kernel checks it as a fallback)."""
    have = effective() if held is None else held
    if "CAP_SYS_ADMIN" in have:
        have = have | {"CAP_BPF", "CAP_PERFMON"}
    return [c for c in NEEDS.get(hook, ()) if c not in have]
