"""attach.kprobe_multi / attach.kretprobe_multi: one 'kprobe' program on many kernel
functions. Functions are names, or one glob pattern ("tcp_*") matched against tracefs
available_filter_functions (kernel functions, not modules).

Where the kernel has kprobe_multi links (5.18+ with CONFIG_FPROBE; `features.has(
"kprobe_multi")`) a program loaded with attach="trace_kprobe_multi" gets one BPF link
(BPF_LINK_CREATE, BPF_TRACE_KPROBE_MULTI). A program loaded without that attach type (the way
to go where the link type is missing, see `multi_attach_type()`) gets one perf kprobe per
function instead, in a LinkGroup; cookies work either way.
"""

from __future__ import annotations

import ctypes
import errno
import fnmatch
import os
from collections.abc import Sequence
from typing import Any

from pybpf.link._prog import prog_fd, require_type
from pybpf.link._tracefs import tracefs_file
from pybpf.link.errors import AttachError, UnknownTargetError
from pybpf.link.link import Link, LinkGroup
from pybpf.sys import FD, AttachType, NotSupportedError, ProgType, bpf_raw, error_from_errno
from pybpf.sys import constants as C
from pybpf.sys.attrs import LinkCreateAttr

BPF_F_KPROBE_MULTI_RETURN = 1 << 0

WHY_MISSING = ("BPF_LINK_CREATE with BPF_TRACE_KPROBE_MULTI needs Linux 5.18+ built with "
               "CONFIG_FPROBE")
NOT_AVAILABLE = (f"kprobe_multi links are not available on this kernel ({WHY_MISSING}); use "
                 "attach.kprobe on each function, or tracepoints")


def traceable_functions() -> list[str]:
    """The kernel (not module) functions ftrace can hook, from available_filter_functions."""
    try:
        with open(tracefs_file("available_filter_functions")) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise NotSupportedError(f"cannot read the kernel's traceable functions "
                                f"(available_filter_functions: {e.strerror}); give "
                                "kprobe_multi function names instead of a pattern") from None
    names = (line.split()[0] for line in lines if line and "[" not in line)
    return list(dict.fromkeys(n for n in names if not n.startswith("__ftrace_invalid")))


def expand(symbols: str | Sequence[str]) -> list[str]:
    """The function names for `symbols`: a list of names, or one glob pattern."""
    if isinstance(symbols, str):
        if not any(ch in symbols for ch in "*?["):
            return [symbols]
        found = fnmatch.filter(traceable_functions(), symbols)
        if not found:
            raise UnknownTargetError(f"no traceable kernel function matches {symbols!r}")
        return found
    names = list(dict.fromkeys(symbols))
    if not names:
        raise ValueError("kprobe_multi needs at least one function")
    return names


def kprobe_multi(prog: Any, symbols: str | Sequence[str], retprobe: bool = False,
                 cookies: Sequence[int] | None = None, fallback: bool = True) -> Link:
    """Attach `prog` (type 'kprobe', loaded with attach="trace_kprobe_multi") to every
    function in `symbols` (names, or a glob pattern) with one link; retprobe=True fires on
    their returns. `cookies[i]` (bpf_get_attach_cookie) goes with function i. Without
    kprobe_multi links (or for a plain 'kprobe' program) one kprobe per function is attached
    instead, unless fallback=False."""
    kind = "kretprobe_multi" if retprobe else "kprobe_multi"
    require_type(prog, {ProgType.KPROBE}, kind)
    names = expand(symbols)
    if cookies is not None and len(cookies) != len(names):
        raise ValueError(f"{len(cookies)} cookies for {len(names)} functions")
    n = len(names)
    cnames = [ctypes.create_string_buffer(s.encode()) for s in names]
    syms = (ctypes.c_uint64 * n)(*(ctypes.addressof(b) for b in cnames))
    cks = (ctypes.c_uint64 * n)(*(cookies or [0] * n))
    attr = LinkCreateAttr(prog_fd=prog_fd(prog), attach_type=AttachType.TRACE_KPROBE_MULTI)
    attr.extra[0] = (BPF_F_KPROBE_MULTI_RETURN if retprobe else 0) | (n << 32)  # flags, cnt
    attr.extra[1] = ctypes.addressof(syms)
    attr.extra[2] = 0  # addrs
    attr.extra[3] = ctypes.addressof(cks) if cookies else 0
    target = symbols if isinstance(symbols, str) else ",".join(names)
    if n > 3 and not isinstance(symbols, str):
        target = f"{','.join(names[:3])},... ({n} functions)"
    ret, err = bpf_raw(C.BPF_LINK_CREATE, attr)
    if ret >= 0:
        return Link(kind, target, link_fd=FD(ret))
    if not fallback or err not in (errno.EINVAL, errno.EOPNOTSUPP, C.ENOTSUPP):
        raise _explain(err, kind, names)
    # no kprobe_multi link: this kernel lacks them, or the program is a plain 'kprobe' one
    return _one_kprobe_each(prog, kind, target, names, retprobe, cookies, err)


def _one_kprobe_each(prog: Any, kind: str, target: str, names: list[str], retprobe: bool,
                     cookies: Sequence[int] | None, link_err: int) -> Link:
    from pybpf.link.kprobe import kprobe

    parts: list[Link] = []
    try:
        for i, name in enumerate(names):
            parts.append(kprobe(prog, name, retprobe=retprobe,
                                cookie=cookies[i] if cookies else 0))
    except AttachError as e:
        for p in parts:
            p.close()
        if not parts and e.errno == errno.EINVAL:
            # a program loaded for kprobe_multi links does not attach to perf kprobes
            if link_err == errno.EINVAL:
                raise _explain(link_err, kind, names) from None
            raise NotSupportedError(
                NOT_AVAILABLE + "; pybpf attaches one kprobe per function instead when the "
                "program is loaded without attach='trace_kprobe_multi'", link_err,
                hook="kprobe_multi", reason=WHY_MISSING) from None
        raise
    except BaseException:
        for p in parts:
            p.close()
        raise
    return LinkGroup(kind, target, parts)


def multi_attach_type() -> str | None:
    """The attach type to load kprobe_multi programs with on this kernel:
    "trace_kprobe_multi" where kprobe_multi links work, else None (plain kprobe programs,
    attached one kprobe per function)."""
    from pybpf.link.probe import hook

    return "trace_kprobe_multi" if hook("kprobe_multi").available else None


def kretprobe_multi(prog: Any, symbols: str | Sequence[str],
                    cookies: Sequence[int] | None = None) -> Link:
    """kprobe_multi(..., retprobe=True)."""
    return kprobe_multi(prog, symbols, retprobe=True, cookies=cookies)


def _explain(err: int, kind: str, names: list[str]) -> Exception:
    if err in (errno.EOPNOTSUPP, C.ENOTSUPP):
        return NotSupportedError(NOT_AVAILABLE, err, hook="kprobe_multi", reason=WHY_MISSING)
    if err == errno.ENOENT or err == errno.ESRCH:
        missing = _untraceable(names)
        what = ", ".join(missing) if missing else "one of " + ", ".join(names[:5])
        return UnknownTargetError(f"{kind}: cannot hook {what}: not a traceable kernel "
                                  "function (see available_filter_functions)", err)
    if err == errno.EINVAL:
        return AttachError(f"{kind}: the kernel refused (EINVAL): the program must be 'kprobe' "
                           "loaded with attach='trace_kprobe_multi', and the kernel needs "
                           "kprobe_multi links (5.18+); attach.kprobe works without either", err)
    return error_from_errno(err, f"attaching {kind} to {', '.join(names[:5])}")


def _untraceable(names: list[str]) -> list[str]:
    try:
        known = set(traceable_functions())
    except (OSError, NotSupportedError):
        return []
    return [n for n in names if n not in known]


def available() -> bool:
    """True when tracefs lists traceable functions (the ftrace base kprobe_multi needs);
    whether the link type itself works is for pybpf.features to probe."""
    try:
        return os.access(tracefs_file("available_filter_functions"), os.R_OK)
    except OSError:
        return False
