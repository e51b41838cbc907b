"""attach.tracepoint: a 'tracepoint' program on a kernel tracepoint (group:name).

The tracepoint's id comes from tracefs (events/GROUP/NAME/id). One perf event of type
PERF_TYPE_TRACEPOINT opened with pid=-1 on CPU 0 is enough, as in libbpf: the program is hung
on the tracepoint itself and runs on every CPU."""

from __future__ import annotations

from typing import Any

from pybpf.link._perf import attach_perf_event
from pybpf.link._prog import require_type
from pybpf.link._tracefs import tracepoint_id
from pybpf.link.link import Link
from pybpf.sys import FD, ProgType, perf_event_open
from pybpf.sys import constants as C
from pybpf.sys.attrs import PerfEventAttr


def open_tracepoint_event(tp_id: int, what: str) -> FD:
    attr = PerfEventAttr(type=C.PERF_TYPE_TRACEPOINT, config=tp_id, sample_period=1,
                         sample_type=C.PERF_SAMPLE_RAW, wakeup_events=1)
    return FD(perf_event_open(attr, pid=-1, cpu=0, what=f"perf_event_open({what})"))


def tracepoint(prog: Any, group: str, name: str | None = None, cookie: int = 0) -> Link:
    """Attach `prog` (type 'tracepoint') to tracepoint `group`:`name`, e.g.
    tracepoint(prog, "sched", "sched_process_exec") or tracepoint(prog, "sched:sched_switch")."""
    if name is None:
        group, sep, name = group.partition(":")
        if not sep:
            raise ValueError(f"tracepoint {group!r}: give the group and the name, "
                             "e.g. 'sched:sched_switch'")
    target = f"{group}:{name}"
    require_type(prog, {ProgType.TRACEPOINT}, f"tracepoint {target}")
    tp_id = tracepoint_id(group, name)
    pfd = open_tracepoint_event(tp_id, f"tracepoint {target}")
    return attach_perf_event(prog, pfd, "tracepoint", target, cookie)
