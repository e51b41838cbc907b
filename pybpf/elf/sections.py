"""Program section names (libbpf's conventions) -> program type, expected attach type and
how the program attaches: `tracepoint/sched/sched_switch`, `xdp`, `kprobe/do_sys_open`...
"""

from __future__ import annotations

from dataclasses import dataclass

from pybpf.sys import AttachType, ProgType
from pybpf.sys import constants as C


@dataclass(frozen=True, slots=True)
class SectionDef:
    prefix: str  # matched as the whole name, or followed by "/" (or "." for variants)
    prog_type: ProgType
    attach_type: AttachType | None = None
    attach: str = ""  # how attach_all attaches it ("" = it cannot be auto-attached)
    flags: int = 0
    btf_target: str = ""  # "func" / "raw_tp": attach_btf_id from the kernel's BTF


@dataclass(frozen=True, slots=True)
class ProgSection:
    name: str  # the full section name
    definition: SectionDef
    target: str  # what follows the prefix and "/", e.g. "sched/sched_switch"

    @property
    def prog_type(self) -> ProgType:
        return self.definition.prog_type

    @property
    def attach_type(self) -> AttachType | None:
        return self.definition.attach_type


_A = AttachType
_P = ProgType
SECTIONS: tuple[SectionDef, ...] = (
    SectionDef("socket", _P.SOCKET_FILTER, attach="socket"),
    SectionDef("kprobe", _P.KPROBE, attach="kprobe"),
    SectionDef("kretprobe", _P.KPROBE, attach="kretprobe"),
    SectionDef("uprobe", _P.KPROBE, attach="uprobe"),
    SectionDef("uretprobe", _P.KPROBE, attach="uretprobe"),
    SectionDef("uprobe.multi", _P.KPROBE, _A.TRACE_UPROBE_MULTI),
    SectionDef("uretprobe.multi", _P.KPROBE, _A.TRACE_UPROBE_MULTI),
    SectionDef("kprobe.multi", _P.KPROBE, _A.TRACE_KPROBE_MULTI),
    SectionDef("kretprobe.multi", _P.KPROBE, _A.TRACE_KPROBE_MULTI),
    SectionDef("tracepoint", _P.TRACEPOINT, attach="tracepoint"),
    SectionDef("tp", _P.TRACEPOINT, attach="tracepoint"),
    SectionDef("raw_tracepoint", _P.RAW_TRACEPOINT, attach="raw_tp"),
    SectionDef("raw_tp", _P.RAW_TRACEPOINT, attach="raw_tp"),
    SectionDef("raw_tracepoint.w", _P.RAW_TRACEPOINT_WRITABLE, attach="raw_tp"),
    SectionDef("raw_tp.w", _P.RAW_TRACEPOINT_WRITABLE, attach="raw_tp"),
    SectionDef("tp_btf", _P.TRACING, _A.TRACE_RAW_TP, "tracing", btf_target="raw_tp"),
    SectionDef("fentry", _P.TRACING, _A.TRACE_FENTRY, "tracing", btf_target="func"),
    SectionDef("fexit", _P.TRACING, _A.TRACE_FEXIT, "tracing", btf_target="func"),
    SectionDef("fmod_ret", _P.TRACING, _A.MODIFY_RETURN, "tracing", btf_target="func"),
    SectionDef("fentry.s", _P.TRACING, _A.TRACE_FENTRY, "tracing", C.BPF_F_SLEEPABLE, "func"),
    SectionDef("fexit.s", _P.TRACING, _A.TRACE_FEXIT, "tracing", C.BPF_F_SLEEPABLE, "func"),
    SectionDef("perf_event", _P.PERF_EVENT, attach="perf_event"),
    SectionDef("xdp", _P.XDP, _A.XDP, "xdp"),
    SectionDef("xdp.frags", _P.XDP, _A.XDP, "xdp", C.BPF_F_XDP_HAS_FRAGS),
    SectionDef("tc", _P.SCHED_CLS, attach="tc"),
    SectionDef("classifier", _P.SCHED_CLS, attach="tc"),
    SectionDef("tcx/ingress", _P.SCHED_CLS, _A.TCX_INGRESS, "tc"),
    SectionDef("tcx/egress", _P.SCHED_CLS, _A.TCX_EGRESS, "tc"),
    SectionDef("tc/ingress", _P.SCHED_CLS, _A.TCX_INGRESS, "tc"),
    SectionDef("tc/egress", _P.SCHED_CLS, _A.TCX_EGRESS, "tc"),
    SectionDef("action", _P.SCHED_ACT),
    SectionDef("cgroup_skb/ingress", _P.CGROUP_SKB, _A.CGROUP_INET_INGRESS, "cgroup"),
    SectionDef("cgroup_skb/egress", _P.CGROUP_SKB, _A.CGROUP_INET_EGRESS, "cgroup"),
    SectionDef("cgroup/skb", _P.CGROUP_SKB),
    SectionDef("cgroup/sock_create", _P.CGROUP_SOCK, _A.CGROUP_INET_SOCK_CREATE, "cgroup"),
    SectionDef("cgroup/sock_release", _P.CGROUP_SOCK, _A.CGROUP_INET_SOCK_RELEASE, "cgroup"),
    SectionDef("cgroup/sock", _P.CGROUP_SOCK, _A.CGROUP_INET_SOCK_CREATE, "cgroup"),
    SectionDef("cgroup/connect4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET4_CONNECT, "cgroup"),
    SectionDef("cgroup/connect6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET6_CONNECT, "cgroup"),
    SectionDef("cgroup/bind4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET4_BIND, "cgroup"),
    SectionDef("cgroup/bind6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_INET6_BIND, "cgroup"),
    SectionDef("cgroup/sendmsg4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UDP4_SENDMSG, "cgroup"),
    SectionDef("cgroup/sendmsg6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UDP6_SENDMSG, "cgroup"),
    SectionDef("cgroup/recvmsg4", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UDP4_RECVMSG, "cgroup"),
    SectionDef("cgroup/recvmsg6", _P.CGROUP_SOCK_ADDR, _A.CGROUP_UDP6_RECVMSG, "cgroup"),
    SectionDef("cgroup/dev", _P.CGROUP_DEVICE, _A.CGROUP_DEVICE, "cgroup"),
    SectionDef("cgroup/sysctl", _P.CGROUP_SYSCTL, _A.CGROUP_SYSCTL, "cgroup"),
    SectionDef("cgroup/getsockopt", _P.CGROUP_SOCKOPT, _A.CGROUP_GETSOCKOPT, "cgroup"),
    SectionDef("cgroup/setsockopt", _P.CGROUP_SOCKOPT, _A.CGROUP_SETSOCKOPT, "cgroup"),
    SectionDef("sockops", _P.SOCK_OPS, _A.CGROUP_SOCK_OPS, "cgroup"),
    SectionDef("sk_skb/stream_parser", _P.SK_SKB, _A.SK_SKB_STREAM_PARSER),
    SectionDef("sk_skb/stream_verdict", _P.SK_SKB, _A.SK_SKB_STREAM_VERDICT),
    SectionDef("sk_skb", _P.SK_SKB),
    SectionDef("sk_msg", _P.SK_MSG, _A.SK_MSG_VERDICT),
    SectionDef("sk_lookup", _P.SK_LOOKUP, _A.SK_LOOKUP),
    SectionDef("flow_dissector", _P.FLOW_DISSECTOR, _A.FLOW_DISSECTOR),
    SectionDef("lwt_in", _P.LWT_IN),
    SectionDef("lwt_out", _P.LWT_OUT),
    SectionDef("lwt_xmit", _P.LWT_XMIT),
    SectionDef("syscall", _P.SYSCALL, flags=C.BPF_F_SLEEPABLE),
    SectionDef("lsm", _P.LSM, _A.LSM_MAC, btf_target="lsm"),
    SectionDef("iter", _P.TRACING, _A.TRACE_ITER),
    SectionDef("struct_ops", _P.STRUCT_OPS),
    SectionDef("netfilter", _P.NETFILTER, _A.NETFILTER),
)


def lookup(name: str) -> ProgSection | None:
    """The definition for a section name; longest prefix wins. None when unknown."""
    best: SectionDef | None = None
    for d in SECTIONS:
        if name == d.prefix or name.startswith(d.prefix + "/"):
            if best is None or len(d.prefix) > len(best.prefix):
                best = d
    if best is None:
        return None
    return ProgSection(name, best, name[len(best.prefix) + 1:])


def known_prefixes() -> list[str]:
    return sorted({d.prefix for d in SECTIONS})
