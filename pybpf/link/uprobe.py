"""attach.uprobe / attach.uretprobe / attach.uprobe_multi: a 'kprobe'-type program on a user
space function, by ELF symbol or file offset.

The binary may be a path, a library name ("libc", "c") or a command ("python3"); symbols
resolve to file offsets through pybpf.symbols. The perf uprobe PMU is used (config1 = path,
config2 = offset, the `retprobe` format bit for returns); without that PMU, tracefs
uprobe_events. `uprobe_multi` uses BPF_LINK_CREATE(BPF_TRACE_UPROBE_MULTI) for programs
loaded with attach="trace_uprobe_multi"."""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Sequence
from typing import Any

from pybpf.link import _probe_events
from pybpf.link._perf import attach_perf_event
from pybpf.link._prog import prog_fd, require_type
from pybpf.link._system import pmu_format_bit, pmu_type
from pybpf.link._uapi import BPF_F_UPROBE_MULTI_RETURN, PERF_UPROBE_REF_CTR_OFFSET_SHIFT
from pybpf.link.errors import AttachError
from pybpf.link.link import Link
from pybpf.sys import (
    FD,
    AttachType,
    BPFPermissionError,
    NotSupportedError,
    ProgType,
    bpf_raw,
    error_from_errno,
    perf_event_open,
)
from pybpf.sys import constants as C
from pybpf.sys.attrs import LinkCreateAttr, PerfEventAttr


def resolve_offset(path: str, symbol_or_offset: str | int) -> tuple[int, str]:
    """(file offset, description) for a symbol ("malloc", "malloc+0x4", "0x1234") or an
    int file offset in binary `path` (already resolved)."""
    if isinstance(symbol_or_offset, int):
        return symbol_or_offset, f"0x{symbol_or_offset:x}"
    text = symbol_or_offset.strip()
    if text.lower().startswith("0x") and "+" not in text:
        return int(text, 16), text
    name, plus, off = text.partition("+")
    extra = int(off, 0) if plus else 0
    from pybpf.symbols import elf_symbols  # ELF reading (pyelftools) only for uprobes

    sym = elf_symbols(path).symbol(name)
    if extra and sym.size and extra >= sym.size:
        raise AttachError(f"offset {off} is past the end of {name} ({sym.size} bytes)")
    return sym.file_offset + extra, text


def _target(path: str, desc: str) -> str:
    return f"{path}:{desc}"


def _open_pmu(ptype: int, path: str, offset: int, retprobe: bool, pid: int,
              ref_ctr_offset: int, what: str) -> FD:
    bit = pmu_format_bit("uprobe", "retprobe")
    if retprobe and bit is None:
        raise NotSupportedError("this kernel's uprobe PMU has no retprobe format bit: "
                                "uretprobes are not available through perf")
    cpath = ctypes.create_string_buffer(path.encode())
    attr = PerfEventAttr(type=ptype, config1=ctypes.addressof(cpath), config2=offset,
                         sample_period=1)
    attr.config = (1 << bit if retprobe else 0) | (ref_ctr_offset << PERF_UPROBE_REF_CTR_OFFSET_SHIFT)
    try:
        return FD(perf_event_open(attr, pid=pid if pid >= 0 else -1, cpu=0 if pid < 0 else -1,
                                  what=f"perf_event_open({what})"))
    except BPFPermissionError as e:
        from pybpf.sys.capabilities import missing

        if "CAP_SYS_ADMIN" in missing("uprobe"):
            raise BPFPermissionError(f"perf_event_open({what}) failed: this kernel creates "
                                     "uprobes only for CAP_SYS_ADMIN (CAP_BPF and CAP_PERFMON "
                                     "are not enough for uprobes here); run as root or with "
                                     "CAP_SYS_ADMIN", e.errno) from None
        raise


def uprobe(prog: Any, path: str, symbol_or_offset: str | int, retprobe: bool = False,
           pid: int = -1, ref_ctr_offset: int = 0, cookie: int = 0) -> Link:
    """Attach `prog` (type 'kprobe') to the entry (or, with retprobe=True, the return) of a
    function in a user-space binary, in every process (pid=-1) or in one process."""
    kind = "uretprobe" if retprobe else "uprobe"
    require_type(prog, {ProgType.KPROBE}, kind)
    from pybpf.symbols import resolve_binary

    binary = resolve_binary(path)
    offset, desc = resolve_offset(binary, symbol_or_offset)
    target = _target(binary, desc)
    ptype = pmu_type("uprobe")
    if ptype is not None:
        pfd = _open_pmu(ptype, binary, offset, retprobe, pid, ref_ctr_offset, f"{kind} {target}")
        return attach_perf_event(prog, pfd, kind, target, cookie)
    if not _probe_events.available("uprobe"):
        why = "no uprobe PMU in /sys/bus/event_source/devices and no tracefs uprobe_events"
        raise NotSupportedError(f"uprobes are not available on this kernel ({why})",
                                hook="uprobes", reason=why)
    if ref_ctr_offset:
        spec = f"{binary}:0x{offset:x}(0x{ref_ctr_offset:x})"
    else:
        spec = f"{binary}:0x{offset:x}"
    tp_id, remove, _ = _probe_events.add("uprobe", retprobe, spec)
    try:
        attr = PerfEventAttr(type=C.PERF_TYPE_TRACEPOINT, config=tp_id, sample_period=1)
        pfd = FD(perf_event_open(attr, pid=pid if pid >= 0 else -1, cpu=0 if pid < 0 else -1,
                                 what=f"perf_event_open({kind} {target})"))
    except BaseException:
        remove()
        raise
    return attach_perf_event(prog, pfd, kind, target, cookie, undo=remove)


def uretprobe(prog: Any, path: str, symbol_or_offset: str | int, pid: int = -1,
              cookie: int = 0) -> Link:
    """uprobe(..., retprobe=True)."""
    return uprobe(prog, path, symbol_or_offset, retprobe=True, pid=pid, cookie=cookie)


def uprobe_multi(prog: Any, path: str, symbols_or_offsets: Sequence[str | int],
                 retprobe: bool = False, pid: int = 0,
                 cookies: Sequence[int] | None = None) -> Link:
    """Attach `prog` (type 'kprobe' loaded with attach="trace_uprobe_multi") to several
    functions of one binary with a single BPF link (BPF_TRACE_UPROBE_MULTI). pid=0 means
    every process."""
    require_type(prog, {ProgType.KPROBE}, "uprobe_multi")
    from pybpf.symbols import resolve_binary

    binary = resolve_binary(path)
    if not symbols_or_offsets:
        raise ValueError("uprobe_multi needs at least one symbol or offset")
    resolved = [resolve_offset(binary, s) for s in symbols_or_offsets]
    n = len(resolved)
    offsets = (ctypes.c_uint64 * n)(*(o for o, _ in resolved))
    cks = (ctypes.c_uint64 * n)(*(cookies or [0] * n))
    cpath = ctypes.create_string_buffer(binary.encode())
    attr = LinkCreateAttr(prog_fd=prog_fd(prog), attach_type=AttachType.TRACE_UPROBE_MULTI)
    attr.extra[0] = ctypes.addressof(cpath)
    attr.extra[1] = ctypes.addressof(offsets)
    attr.extra[2] = 0  # ref_ctr_offsets
    attr.extra[3] = ctypes.addressof(cks) if cookies else 0
    attr.extra[4] = n | ((BPF_F_UPROBE_MULTI_RETURN if retprobe else 0) << 32)
    attr.extra[5] = max(pid, 0)
    target = _target(binary, ",".join(d for _, d in resolved))
    ret, err = bpf_raw(C.BPF_LINK_CREATE, attr)
    if ret < 0:
        if err == errno.EINVAL:
            raise AttachError(
                f"uprobe_multi {target}: the kernel refused (EINVAL); the program must be "
                "loaded with attach='trace_uprobe_multi', and the kernel needs uprobe_multi "
                "links (6.6+); attach.uprobe works without either", err)
        if err in (errno.EOPNOTSUPP, C.ENOTSUPP):
            raise NotSupportedError("uprobe_multi links are not available on this kernel; "
                                    "use attach.uprobe", err)
        raise error_from_errno(err, f"attaching uprobe_multi to {target}")
    return Link("uretprobe_multi" if retprobe else "uprobe_multi", target, link_fd=FD(ret))
