"""fentry / fexit / fmod_ret / tp_btf: 'tracing' programs on a kernel function or a raw
tracepoint, found by BTF id.

A tracing program names its target when it is loaded (expected attach type and
attach_btf_id), so loading and attaching go together:

    prog = load_tracing("fentry", insns, "vfs_read")      # or "module:function"
    with attach.fentry(prog):
        ...

The context is an array of u64: argument i of the function (or of the tracepoint, without its
leading `void *`) at offset 8*i; fexit and fmod_ret programs find the return value after the
last argument. fmod_ret programs return 0 to let the function run, anything else to skip it and
make that its return value.

Attaching uses BPF_LINK_CREATE (attach type BPF_TRACE_FENTRY / _FEXIT / BPF_MODIFY_RETURN /
BPF_TRACE_RAW_TP), falling back to BPF_RAW_TRACEPOINT_OPEN with no name on kernels whose
BPF_LINK_CREATE does not take tracing programs. Kernels that cannot build BPF trampolines
refuse fentry/fexit/fmod_ret programs: that is reported as NotSupportedError.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from typing import Any

from pybpf.link import btf_ids
from pybpf.link._prog import prog_fd, require_type
from pybpf.link.errors import AttachError, UnknownTargetError
from pybpf.link.link import Link
from pybpf.sys import (
    FD,
    AttachType,
    BPFError,
    NotSupportedError,
    ProgType,
    VerifierError,
    bpf_raw,
    error_from_errno,
)
from pybpf.sys import constants as C
from pybpf.sys.attrs import LinkCreateAttr, RawTracepointOpenAttr

#: kind -> the expected attach type its program is loaded with
ATTACH_TYPES: dict[str, AttachType] = {
    "fentry": AttachType.TRACE_FENTRY,
    "fexit": AttachType.TRACE_FEXIT,
    "fmod_ret": AttachType.MODIFY_RETURN,
    "tp_btf": AttachType.TRACE_RAW_TP,
}
_KIND_OF = {v: k for k, v in ATTACH_TYPES.items()}
_NOT_SUPPORTED = (errno.EOPNOTSUPP, C.ENOTSUPP)


def no_trampolines(kind: str, detail: str) -> NotSupportedError:
    """The error for a kernel that cannot run fentry/fexit/fmod_ret (or tp_btf) programs."""
    if kind == "tp_btf":
        return NotSupportedError(f"tp_btf is not available on this kernel ({detail}); use "
                                 "attach.raw_tracepoint or attach.tracepoint", errno.EOPNOTSUPP,
                                 hook="tp_btf", reason=detail)
    reason = f"{detail}: it cannot attach BPF trampolines"
    return NotSupportedError(f"fentry/fexit are not available on this kernel ({reason}); use "
                             "kprobes or tracepoints", errno.EOPNOTSUPP, hook="fentry/fexit",
                             reason=reason)


def _kind(kind: str) -> AttachType:
    try:
        return ATTACH_TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown tracing kind {kind!r}; one of "
                         f"{', '.join(ATTACH_TYPES)}") from None


def resolve(kind: str, target: str) -> btf_ids.BTFTarget:
    """The BTF target of a `kind` program: a function, or for tp_btf a tracepoint."""
    _kind(kind)
    return btf_ids.tracepoint(target) if kind == "tp_btf" else btf_ids.function(target)


def load_tracing(kind: str, insns: Sequence[Any] | bytes, target: str, *,
                 name: str | None = None, license: str = "GPL", **load_args: Any) -> Any:
    """Load `insns` as a 'tracing' program of `kind` ("fentry", "fexit", "fmod_ret",
    "tp_btf") for `target` (function "vfs_read" / "module:function", or tracepoint
    "sched_switch"). Returns the pybpf Program, with `attach_kind` and `attach_target` set.

    Raises UnknownTargetError (with the nearest names) for an unknown target, AttachError for
    a function that cannot be traced this way, NotSupportedError on kernels without BPF
    trampolines, VerifierError when the verifier rejects the code."""
    from pybpf.program import Program

    atype = _kind(kind)
    tgt = resolve(kind, target)
    obj_fd = tgt.obj_fd()
    try:
        prog = Program.load(ProgType.TRACING, insns, license=license,
                            name=name or f"{kind}_{tgt.name}", attach=atype,
                            attach_btf_id=tgt.btf_id,
                            attach_prog_fd=obj_fd.fileno() if obj_fd is not None else 0,
                            **load_args)
    except VerifierError as e:
        raise _explain_rejection(kind, tgt, e) from None
    except BPFError as e:
        raise _explain_load_error(kind, tgt, e) from None
    finally:
        if obj_fd is not None:
            obj_fd.close()
    prog.attach_kind = kind
    prog.attach_target = str(tgt)
    return prog


def _explain_load_error(kind: str, tgt: btf_ids.BTFTarget, e: BPFError) -> BPFError:
    what = f"loading {'an' if kind[0] == 'f' else 'a'} {kind} program for {tgt}"
    if e.errno == errno.EPERM and os.geteuid() == 0:
        # root with every capability: the kernel itself will not run tracing programs
        return no_trampolines(kind, f"{what} was refused with EPERM although running as root")
    if e.errno in _NOT_SUPPORTED or isinstance(e, NotSupportedError):
        return no_trampolines(kind, f"{what} failed: {os.strerror(e.errno or errno.EOPNOTSUPP)}")
    if e.errno == errno.ENOENT:
        return UnknownTargetError(f"cannot attach {kind} to {tgt}: the kernel has no address "
                                  "for it (inlined or not built in)", e.errno)
    return e


def _explain_rejection(kind: str, tgt: btf_ids.BTFTarget, e: VerifierError) -> BPFError:
    log = (e.log or "").strip()
    last = log.splitlines()[-1] if log else ""
    if "is not modifiable" in log or ("fmod_ret" in kind and "error injection" in log):
        return AttachError(f"fmod_ret cannot attach to {tgt}: only functions on the kernel's "
                           "error-injection list (ALLOW_ERROR_INJECTION) and security_* hooks "
                           f"can have their return value changed ({last})", e.errno)
    if "variable args" in log:
        return AttachError(f"{kind} cannot attach to {tgt}: it takes variable arguments, "
                           "which BPF trampolines do not support (use a kprobe)", e.errno)
    if any(s in log for s in ("cannot be found", "is not traceable", "is rejected",
                              "not allowed", "is not a function", "is not a typedef")):
        return AttachError(f"{kind} cannot attach to {tgt}: {last}", e.errno)
    return e


def _describe(prog: Any, kind: str) -> str:
    target = getattr(prog, "attach_target", None)
    if target:
        return str(target)
    try:
        from pybpf.btf import kernel_btf
        from pybpf.sys import objects

        info = objects.prog_info(prog_fd(prog))
        if info.attach_btf_id and not info.attach_btf_obj_id:
            return kernel_btf().type_by_id(info.attach_btf_id).name.removeprefix("btf_trace_")
        return f"btf id {info.attach_btf_id}"
    except Exception:  # noqa: BLE001 - only a description
        return "its BTF target"


def attach_tracing(prog: Any, kind: str, cookie: int = 0) -> Link:
    """Attach a 'tracing' program loaded for `kind` (see load_tracing) to its target."""
    atype = _kind(kind)
    require_type(prog, {ProgType.TRACING}, kind)
    loaded_as = getattr(prog, "attach_kind", None)
    if loaded_as is not None and loaded_as != kind:
        raise AttachError(f"this program was loaded as {loaded_as}, not {kind}: load it with "
                          f"load_tracing({kind!r}, ...)")
    target = _describe(prog, kind)
    attr = LinkCreateAttr(prog_fd=prog_fd(prog), attach_type=atype)
    attr.extra[1] = cookie  # tracing.cookie (tracing.target_btf_id, extra[0], stays 0)
    ret, err = bpf_raw(C.BPF_LINK_CREATE, attr)
    if ret < 0 and err in (errno.EINVAL, *_NOT_SUPPORTED) and not cookie:
        # older kernels: BPF_LINK_CREATE does not take tracing programs
        raw = RawTracepointOpenAttr(name=0, prog_fd=prog_fd(prog))
        ret2, err2 = bpf_raw(C.BPF_RAW_TRACEPOINT_OPEN, raw)
        if ret2 >= 0:
            return Link(kind, target, link_fd=FD(ret2))
        ret, err = ret2, err2
    if ret < 0:
        raise _explain_attach_error(kind, target, err, cookie)
    return Link(kind, target, link_fd=FD(ret))


def _explain_attach_error(kind: str, target: str, err: int, cookie: int) -> BPFError:
    if err in _NOT_SUPPORTED:
        return no_trampolines(kind, f"attaching {kind} to {target} failed: "
                                    f"{os.strerror(errno.EOPNOTSUPP)}")
    if err == errno.EBUSY:
        return AttachError(f"{kind} cannot attach to {target}: its entry is not patchable "
                           "(notrace, or taken by another tracer)", err)
    if err == errno.EINVAL:
        extra = " (BPF cookies on tracing links need kernel 6.0+)" if cookie else ""
        return AttachError(f"the kernel refused to attach {kind} to {target} (EINVAL): the "
                           f"program must be loaded with load_tracing({kind!r}, ...){extra}", err)
    if err == errno.E2BIG:
        return AttachError(f"{kind} on {target}: too many programs on this function", err)
    return error_from_errno(err, f"attaching {kind} to {target}")


def fentry(prog: Any, cookie: int = 0) -> Link:
    """Attach an fentry program (load_tracing("fentry", ...)): runs at the function's entry."""
    return attach_tracing(prog, "fentry", cookie)


def fexit(prog: Any, cookie: int = 0) -> Link:
    """Attach an fexit program: runs at return, sees the arguments and the return value."""
    return attach_tracing(prog, "fexit", cookie)


def fmod_ret(prog: Any, cookie: int = 0) -> Link:
    """Attach an fmod_ret program: a non-zero return skips the function and replaces its
    return value (error-injection functions and security_* hooks only)."""
    return attach_tracing(prog, "fmod_ret", cookie)


def tp_btf(prog: Any, cookie: int = 0) -> Link:
    """Attach a tp_btf program (load_tracing("tp_btf", ..., "sched_switch")): a raw
    tracepoint whose arguments are typed by BTF (pointers can be read directly)."""
    return attach_tracing(prog, "tp_btf", cookie)


def trace(kind: str, insns: Sequence[Any] | bytes, target: str, cookie: int = 0,
          **load_args: Any) -> tuple[Any, Link]:
    """Load and attach in one step: (program, link). Closing the link detaches; the program
    stays loaded until it is closed too."""
    prog = load_tracing(kind, insns, target, **load_args)
    try:
        return prog, attach_tracing(prog, kind, cookie)
    except BaseException:
        prog.close()
        raise


def kind_of(attach_type: AttachType | int) -> str | None:
    """"fentry" for BPF_TRACE_FENTRY, ...; None for other attach types."""
    try:
        return _KIND_OF.get(AttachType(attach_type))
    except ValueError:
        return None
