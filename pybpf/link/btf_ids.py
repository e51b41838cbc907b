"""BTF ids of attach targets for tracing programs (fentry, fexit, fmod_ret, tp_btf).

A tracing program is loaded against one kernel function (or one `btf_trace_<tp>` typedef):
its `attach_btf_id`, plus, for a function in a module, the fd of that module's BTF object
(passed as `attach_btf_obj_fd`, the same attr slot as `attach_prog_fd`). Names are "func" (the
kernel first, then loaded modules) or "module:func".
"""

from __future__ import annotations

import ctypes
import errno
import threading
from dataclasses import dataclass

from pybpf.btf import BTFError, BTFNotFoundError, kernel_btf, kernel_modules, module_btf
from pybpf.btf.types import Func, Typedef
from pybpf.link.errors import UnknownTargetError
from pybpf.sys import FD, BPFError, NotSupportedError, objects

_lock = threading.Lock()
_btf_obj_ids: dict[str, int] = {}


class BtfInfo(ctypes.Structure):
    """struct bpf_btf_info (only the name is asked for)."""

    _fields_ = [
        ("btf", ctypes.c_uint64),
        ("btf_size", ctypes.c_uint32),
        ("id", ctypes.c_uint32),
        ("name", ctypes.c_uint64),
        ("name_len", ctypes.c_uint32),
        ("kernel_btf", ctypes.c_uint32),
    ]


@dataclass(frozen=True)
class CtxArg:
    """One argument in a tracing program's context (an array of u64): `offset` in bytes,
    `slots` u64 words (2 for a struct of 9-16 bytes passed by value)."""

    name: str
    type: object  # a pybpf.btf Type
    offset: int
    slots: int = 1


@dataclass(frozen=True)
class BTFTarget:
    """Where a tracing program attaches: `btf_id` in vmlinux (module None) or in `module`."""

    name: str
    btf_id: int
    module: str | None = None
    proto: object = None  # the pybpf.btf FuncProto: parameter names and types, return type

    def __str__(self) -> str:
        return f"{self.module}:{self.name}" if self.module else self.name

    def ctx_args(self) -> list[CtxArg]:
        """Where each argument sits in the context of an fentry/fexit/fmod_ret program on this
        function (or a tp_btf program on this tracepoint: without the leading ctx)."""
        if self.proto is None:  # a tracepoint
            from pybpf.btf import raw_tracepoint_args

            params = raw_tracepoint_args(kernel_btf(), self.name)
        else:
            params = [(p.name, p.type) for p in self.proto.params]  # type: ignore[attr-defined]
        out, slot = [], 0
        for i, (name, typ) in enumerate(params):
            try:
                size = typ.resolve().size if hasattr(typ, "resolve") else typ.size
            except BTFError:
                size = 8
            slots = max(1, (size + 7) // 8)
            out.append(CtxArg(name or f"arg{i}", typ, slot * 8, slots))
            slot += slots
        return out

    @property
    def ret_offset(self) -> int:
        """The return value's offset in an fexit/fmod_ret context (after the arguments)."""
        return sum(a.slots for a in self.ctx_args()) * 8

    def obj_fd(self) -> FD | None:
        """A new fd of the module's BTF object (None for vmlinux). Close it after loading."""
        return None if self.module is None else module_btf_fd(self.module)


def _btf_or_unsupported() -> object:
    try:
        return kernel_btf()
    except BTFError as e:
        raise NotSupportedError(f"{e}; fentry/fexit/fmod_ret and tp_btf need kernel BTF: use "
                                "kprobes or tracepoints") from None


def function(name: str) -> BTFTarget:
    """The BTF id of kernel function `name` ("vfs_read", "nf_tables:nft_do_chain").
    UnknownTargetError with the nearest names when there is no such function."""
    module, sep, func = name.rpartition(":")
    if sep and not module:
        raise UnknownTargetError(f"invalid function name {name!r}")
    vmlinux = _btf_or_unsupported()
    if module:
        try:
            found = module_btf(module).find(func, "func")
        except BTFNotFoundError as e:
            raise UnknownTargetError(f"unknown function {name!r}: {e}") from None
        assert isinstance(found, Func)
        return BTFTarget(func, found.id, module, found.proto)
    try:
        found = vmlinux.find(func, "func")  # type: ignore[attr-defined]
        assert isinstance(found, Func)
        return BTFTarget(func, found.id, None, found.proto)
    except BTFNotFoundError as e:
        missing = e
    for mod in kernel_modules():
        try:
            found = module_btf(mod).find_all(func, "func")
        except BTFError:
            continue
        if found:
            return BTFTarget(func, found[0].id, mod, found[0].proto)  # type: ignore[attr-defined]
    raise UnknownTargetError(f"unknown kernel function {func!r} (not in the kernel's BTF; "
                             f"a function in a module is written 'module:function')"
                             + _did_you_mean(missing.suggestions))


def tracepoint(name: str) -> BTFTarget:
    """The BTF id of the `btf_trace_<name>` typedef of raw tracepoint `name` ("sched_switch";
    "sched:sched_switch" is accepted and the group dropped)."""
    event = name.rpartition(":")[2]
    vmlinux = _btf_or_unsupported()
    try:
        found = vmlinux.find(f"btf_trace_{event}", "typedef")  # type: ignore[attr-defined]
    except BTFNotFoundError as e:
        near = [s.removeprefix("btf_trace_") for s in e.suggestions]
        raise UnknownTargetError(f"unknown tracepoint {event!r} for tp_btf (no typedef "
                                 f"btf_trace_{event} in the kernel's BTF)"
                                 + _did_you_mean(near)) from None
    assert isinstance(found, Typedef)
    return BTFTarget(event, found.id, None, None)


def _did_you_mean(names: list[str]) -> str:
    return "; did you mean " + ", ".join(repr(n) for n in names) + "?" if names else ""


def module_btf_fd(module: str) -> FD:
    """An fd of the kernel's BTF object for loaded module `module` (walks the BTF ids)."""
    with _lock:
        known = _btf_obj_ids.get(module)
    if known is not None:
        try:
            fd = objects.fd_by_id("btf", known)
            if _btf_name(fd) == module:
                return fd
            fd.close()
        except BPFError:
            pass
    for btf_id in objects.ids("btf"):
        try:
            fd = objects.fd_by_id("btf", btf_id)
        except BPFError as e:
            if e.errno == errno.ENOENT:
                continue
            raise
        if _btf_name(fd) == module:
            with _lock:
                _btf_obj_ids[module] = btf_id
            return fd
        fd.close()
    raise UnknownTargetError(f"no BTF object for kernel module {module!r} (is it loaded?)")


def _btf_name(fd: FD) -> str:
    from pybpf.sys import constants as C
    from pybpf.sys.attrs import InfoByFdAttr
    from pybpf.sys.syscall import bpf_raw

    name = ctypes.create_string_buffer(64)
    info = BtfInfo(name=ctypes.addressof(name), name_len=64)
    attr = InfoByFdAttr(bpf_fd=fd.fileno(), info_len=ctypes.sizeof(info),
                        info=ctypes.addressof(info))
    ret, _ = bpf_raw(C.BPF_OBJ_GET_INFO_BY_FD, attr)
    return name.value.decode(errors="replace") if ret >= 0 else ""
