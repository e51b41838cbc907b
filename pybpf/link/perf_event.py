"""attach.perf_event: a 'perf_event' program on sampling perf events (software or hardware
counters), one event and one BPF link per CPU, all owned by one Link.

Event names follow perf and bpftrace: software "cpu-clock", "task-clock", "page-faults",
"context-switches", "cpu-migrations", "minor-faults", "major-faults", ...; hardware
"cpu-cycles"/"cycles", "instructions", "cache-misses", "branch-misses", ..."""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import Any

from pybpf.link._perf import attach_perf_event
from pybpf.link._prog import require_type
from pybpf.link._system import online_cpus
from pybpf.link.errors import AttachError, UnknownTargetError
from pybpf.link.link import Link, LinkGroup
from pybpf.sys import FD, BPFError, NotSupportedError, ProgType, perf_event_open
from pybpf.sys import constants as C
from pybpf.sys.attrs import PerfEventAttr

SOFTWARE_EVENTS: dict[str, int] = {
    "cpu-clock": C.PERF_COUNT_SW_CPU_CLOCK, "cpu": C.PERF_COUNT_SW_CPU_CLOCK,
    "task-clock": C.PERF_COUNT_SW_TASK_CLOCK,
    "page-faults": C.PERF_COUNT_SW_PAGE_FAULTS, "faults": C.PERF_COUNT_SW_PAGE_FAULTS,
    "context-switches": C.PERF_COUNT_SW_CONTEXT_SWITCHES, "cs": C.PERF_COUNT_SW_CONTEXT_SWITCHES,
    "cpu-migrations": C.PERF_COUNT_SW_CPU_MIGRATIONS, "migrations": C.PERF_COUNT_SW_CPU_MIGRATIONS,
    "minor-faults": C.PERF_COUNT_SW_PAGE_FAULTS_MIN,
    "major-faults": C.PERF_COUNT_SW_PAGE_FAULTS_MAJ,
    "alignment-faults": C.PERF_COUNT_SW_ALIGNMENT_FAULTS,
    "emulation-faults": C.PERF_COUNT_SW_EMULATION_FAULTS,
    "dummy": C.PERF_COUNT_SW_DUMMY,
    "bpf-output": C.PERF_COUNT_SW_BPF_OUTPUT,
    "cgroup-switches": C.PERF_COUNT_SW_CGROUP_SWITCHES,
}
HARDWARE_EVENTS: dict[str, int] = {
    "cpu-cycles": C.PERF_COUNT_HW_CPU_CYCLES, "cycles": C.PERF_COUNT_HW_CPU_CYCLES,
    "instructions": C.PERF_COUNT_HW_INSTRUCTIONS,
    "cache-references": C.PERF_COUNT_HW_CACHE_REFERENCES,
    "cache-misses": C.PERF_COUNT_HW_CACHE_MISSES,
    "branch-instructions": C.PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
    "branches": C.PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
    "branch-misses": C.PERF_COUNT_HW_BRANCH_MISSES,
    "bus-cycles": C.PERF_COUNT_HW_BUS_CYCLES,
    "stalled-cycles-frontend": C.PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
    "frontend-stalls": C.PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
    "stalled-cycles-backend": C.PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
    "backend-stalls": C.PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
    "ref-cycles": C.PERF_COUNT_HW_REF_CPU_CYCLES,
}
_TYPES: dict[str, tuple[int, dict[str, int]]] = {
    "software": (C.PERF_TYPE_SOFTWARE, SOFTWARE_EVENTS), "sw": (C.PERF_TYPE_SOFTWARE, SOFTWARE_EVENTS),
    "hardware": (C.PERF_TYPE_HARDWARE, HARDWARE_EVENTS), "hw": (C.PERF_TYPE_HARDWARE, HARDWARE_EVENTS),
}  # fmt: skip


def event_config(event_type: str | int, event: str | int) -> tuple[int, int]:
    """(perf type, config) for a perf/bpftrace event spelling; ints pass through."""
    if isinstance(event_type, int):
        if not isinstance(event, int):
            raise ValueError("with a numeric perf type, give the numeric config too")
        return event_type, event
    try:
        ptype, names = _TYPES[event_type.lower()]
    except KeyError:
        raise UnknownTargetError(f"unknown perf event type {event_type!r}: use 'software' "
                                 "or 'hardware'") from None
    if isinstance(event, int):
        return ptype, event
    try:
        return ptype, names[event.lower()]
    except KeyError:
        raise UnknownTargetError(f"unknown {event_type} event {event!r}; known: "
                                 f"{', '.join(names)}") from None


def open_sampling_event(ptype: int, config: int, cpu: int, pid: int, sample_freq: int | None,
                        sample_period: int | None, what: str) -> FD:
    attr = PerfEventAttr(type=ptype, config=config)
    if sample_freq is not None:
        attr.sample_period = sample_freq
        attr.flags |= C.PERF_ATTR_FLAG_FREQ
    else:
        attr.sample_period = sample_period or 1
    try:
        return FD(perf_event_open(attr, pid=pid, cpu=cpu, what=f"perf_event_open({what})"))
    except BPFError as e:
        if ptype == C.PERF_TYPE_HARDWARE and e.errno in (errno.ENOENT, errno.EOPNOTSUPP,
                                                         errno.ENODEV, errno.EINVAL):
            raise NotSupportedError(
                f"hardware event {what} is not available here: this machine (often a virtual "
                "machine) exposes no hardware performance counters; use a software event such "
                "as 'cpu-clock'", e.errno) from None
        if e.errno in (errno.ENOENT, errno.EOPNOTSUPP):
            raise NotSupportedError(f"perf event {what} is not supported by this kernel",
                                    e.errno) from None
        raise


def perf_event(
    prog: Any,
    event_type: str | int,
    event: str | int,
    sample_freq: int | None = None,
    sample_period: int | None = None,
    cpus: Iterable[int] | None = None,
    pid: int = -1,
) -> Link:
    """Attach `prog` (type 'perf_event') to a sampling event on each CPU in `cpus` (default:
    all online CPUs; with a `pid` and no `cpus`, one event following that process). Give
    `sample_freq` (Hz) or `sample_period` (events per sample); the default is 99 Hz."""
    if sample_freq is not None and sample_period is not None:
        raise ValueError("give sample_freq or sample_period, not both")
    if sample_freq is None and sample_period is None:
        sample_freq = 99
    ptype, config = event_config(event_type, event)
    target = f"{event_type}:{event}"
    require_type(prog, {ProgType.PERF_EVENT}, f"perf event {target}")
    if cpus is None:
        cpu_list = [-1] if pid != -1 else online_cpus()
    else:
        cpu_list = list(cpus)
    online = online_cpus()
    parts: list[Link] = []
    try:
        for cpu in cpu_list:
            where = f"{target} on CPU {cpu}" if cpu >= 0 else f"{target} for pid {pid}"
            if cpu >= 0 and cpu not in online:
                raise AttachError(f"cannot open {where}: CPU {cpu} is not online (online "
                                  f"CPUs: {', '.join(map(str, online))})", errno.ENODEV)
            pfd = open_sampling_event(ptype, config, cpu, pid, sample_freq, sample_period, where)
            parts.append(attach_perf_event(prog, pfd, "perf_event", where))
    except BaseException:
        for p in parts:
            p.close()
        raise
    return LinkGroup("perf_event", target, parts)
