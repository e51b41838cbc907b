"""Attaching programs to kernel hooks. Every function returns a Link: close it (or use it as a
context manager, or drop it) to detach. Exposed as `pybpf.attach`."""

from pybpf.link.cgroup import cgroup
from pybpf.link.errors import AttachError, UnknownTargetError
from pybpf.link.kprobe import kprobe, kprobes_available, kretprobe
from pybpf.link.kprobe_multi import kprobe_multi, kretprobe_multi
from pybpf.link.link import Link, LinkGroup, link_ids
from pybpf.link.perf_event import perf_event
from pybpf.link.raw_tracepoint import raw_tracepoint
from pybpf.link.socket_filter import socket_filter
from pybpf.link.tc import tc
from pybpf.link.tracepoint import tracepoint
from pybpf.link.tracing import attach_tracing, fentry, fexit, fmod_ret, load_tracing, tp_btf
from pybpf.link.uprobe import uprobe, uprobe_multi, uretprobe
from pybpf.link.usdt import usdt
from pybpf.link.xdp import xdp

__all__ = [
    "AttachError", "Link", "LinkGroup", "UnknownTargetError", "attach_tracing", "cgroup",
    "fentry", "fexit", "fmod_ret", "kprobe", "kprobe_multi", "kprobes_available", "kretprobe",
    "kretprobe_multi", "link_ids", "load_tracing", "perf_event", "raw_tracepoint",
    "socket_filter", "tc", "tp_btf", "tracepoint", "uprobe", "uprobe_multi", "uretprobe", "usdt",
    "xdp",
]
