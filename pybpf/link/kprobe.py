"""attach.kprobe / attach.kretprobe: a 'kprobe' program on a kernel function.

Kernels built without CONFIG_KPROBES (like pybpf's main test machine) have neither the perf
kprobe PMU nor tracefs kprobe_events: that is detected by looking for both, and reported as
NotSupportedError pointing at tracepoints. Where kprobes exist: the perf kprobe PMU
(config1 = function name, config2 = offset, or config2 = address), else kprobe_events."""

from __future__ import annotations

import ctypes
import errno
from typing import Any

from pybpf.link import _probe_events
from pybpf.link._perf import attach_perf_event
from pybpf.link._prog import require_type
from pybpf.link._system import pmu_dir, pmu_format_bit, pmu_type
from pybpf.link.errors import UnknownTargetError
from pybpf.link.link import Link
from pybpf.sys import FD, BPFError, NotSupportedError, ProgType, perf_event_open
from pybpf.sys import constants as C
from pybpf.sys.attrs import PerfEventAttr

WHY_MISSING = ("no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in "
               "tracefs: it was built without CONFIG_KPROBES")
NOT_AVAILABLE = (
    f"kprobes are not available on this kernel ({WHY_MISSING}); use attach.tracepoint or "
    "attach.raw_tracepoint instead (`pybpf trace -l` lists them)"
)


def not_available() -> NotSupportedError:
    return NotSupportedError(NOT_AVAILABLE, errno.EOPNOTSUPP, hook="kprobes",
                             reason=WHY_MISSING)


def kprobes_available() -> bool:
    """True when this kernel can create kprobes (perf kprobe PMU or tracefs kprobe_events)."""
    return pmu_dir("kprobe") is not None or _probe_events.available("kprobe")


def parse_target(symbol: str | int) -> tuple[str | None, int]:
    """("func", offset) from "func" / "func+0x10", or (None, address) from an int."""
    if isinstance(symbol, int):
        return None, symbol
    name, plus, off = symbol.strip().partition("+")
    if not name:
        raise ValueError(f"invalid kprobe target {symbol!r}")
    return name, int(off, 0) if plus else 0


def _describe(name: str | None, offset: int) -> str:
    if name is None:
        return f"0x{offset:x}"
    return f"{name}+0x{offset:x}" if offset else name


def _unknown(name: str | None, offset: int, err: int) -> UnknownTargetError:
    hint = ""
    if name is not None and offset and err in (errno.EILSEQ, errno.EINVAL):
        return UnknownTargetError(
            f"cannot place a kprobe at {_describe(name, offset)}: the offset is not on an "
            "instruction boundary, or is past the function's end (kprobes go on instruction "
            "starts; an offset of 0 is always valid)", err)
    if name is not None:
        try:
            from pybpf.symbols import SymbolNotFoundError, kernel_symbols

            try:
                kernel_symbols().symbol(name)
                hint = " (the symbol exists but cannot be probed: it may be inlined, notrace "
                hint += "or blacklisted)"
            except SymbolNotFoundError as e:
                hint = f" ({e})"
        except OSError:
            pass
    return UnknownTargetError(f"cannot place a kprobe at {_describe(name, offset)}{hint}", err)


def kprobe(prog: Any, symbol: str | int, retprobe: bool = False, cookie: int = 0) -> Link:
    """Attach `prog` (type 'kprobe') to kernel function `symbol` ("do_sys_openat2",
    "tcp_sendmsg+0x10", a module's "nf_tables:nft_do_chain" or an address); retprobe=True
    fires on return. An offset must fall on an instruction boundary."""
    kind = "kretprobe" if retprobe else "kprobe"
    name, offset = parse_target(symbol)
    target = _describe(name, offset)
    if retprobe and name is not None and offset:
        raise ValueError(f"kretprobe {target}: a return probe attaches to the function itself "
                         "and takes no offset")
    if not kprobes_available():
        raise not_available()
    require_type(prog, {ProgType.KPROBE}, kind)
    ptype = pmu_type("kprobe")
    if ptype is not None:
        bit = pmu_format_bit("kprobe", "retprobe")
        if retprobe and bit is None:
            raise NotSupportedError("this kernel's kprobe PMU has no retprobe bit: kretprobes "
                                    "are not available through perf")
        cname = ctypes.create_string_buffer(name.encode()) if name is not None else None
        attr = PerfEventAttr(type=ptype, sample_period=1,
                             config=(1 << bit) if retprobe and bit is not None else 0,
                             config1=ctypes.addressof(cname) if cname is not None else 0,
                             config2=offset)
        try:
            pfd = FD(perf_event_open(attr, pid=-1, cpu=0, what=f"perf_event_open({kind} "
                                                                f"{target})"))
        except BPFError as e:
            if e.errno in (errno.ENOENT, errno.EINVAL, errno.EADDRNOTAVAIL, errno.EILSEQ):
                raise _unknown(name, offset, e.errno) from None
            raise
        return attach_perf_event(prog, pfd, kind, target, cookie)
    if name is None:
        spec = f"0x{offset:x}"
    else:
        spec = f"{name}+{offset}" if offset else name
    tp_id, remove, _ = _probe_events.add("kprobe", retprobe, spec)
    try:
        attr = PerfEventAttr(type=C.PERF_TYPE_TRACEPOINT, config=tp_id, sample_period=1)
        pfd = FD(perf_event_open(attr, pid=-1, cpu=0, what=f"perf_event_open({kind} {target})"))
    except BaseException:
        remove()
        raise
    return attach_perf_event(prog, pfd, kind, target, cookie, undo=remove)


def kretprobe(prog: Any, symbol: str | int, cookie: int = 0) -> Link:
    """kprobe(..., retprobe=True)."""
    return kprobe(prog, symbol, retprobe=True, cookie=cookie)
