"""Creating an object's maps (BPF_MAP_CREATE with the object's BTF ids, flags, initial
contents, freezing read-only data) and giving them the `pybpf.maps` API, with keys and
values decoded by the object's BTF types."""

from __future__ import annotations

import ctypes
import errno
from typing import Any

from pybpf import maps
from pybpf.btf import BTF
from pybpf.elf import values
from pybpf.elf.mapspec import MapSpec
from pybpf.sys import FD, BPFError, MapType, NotSupportedError, bpf_raw, error_from_errno, probe
from pybpf.sys import constants as C
from pybpf.sys.attrs import MapCreateAttr, MapElemAttr
from pybpf.types import codec


class _BTFTyped:
    """Mixin over a `pybpf.maps` class: keys and values packed and unpacked by BTF types
    when the object names them; bytes of the right size are always accepted."""

    btf: BTF | None = None
    key_type_id: int = 0
    value_type_id: int = 0
    spec: MapSpec

    def _pack_key(self, key: Any) -> bytes:
        if self.btf is not None and self.key_type_id and not isinstance(key, bytes):
            try:
                return values.encode(self.btf, self.key_type_id, key)
            except (ValueError, TypeError) as e:
                raise KeyError(f"map '{self.name}': bad key: {e}") from None
        return super()._pack_key(key)  # type: ignore[misc]

    def _unpack_key(self, raw: bytes) -> Any:
        if self.btf is not None and self.key_type_id:
            return values.decode(self.btf, self.key_type_id, raw)
        return super()._unpack_key(raw)  # type: ignore[misc]

    def _pack_value(self, value: Any) -> bytes:
        if self.btf is not None and self.value_type_id and not isinstance(value, bytes):
            try:
                return values.encode(self.btf, self.value_type_id, value)
            except (ValueError, TypeError) as e:
                raise ValueError(f"map '{self.name}': bad value: {e}") from None
        return super()._pack_value(value)  # type: ignore[misc]

    def _unpack_value(self, raw: bytes) -> Any:
        if self.btf is not None and self.value_type_id:
            return values.decode(self.btf, self.value_type_id, raw)
        return super()._unpack_value(raw)  # type: ignore[misc]

    name: str  # from maps.Map


_CLASSES: dict[type, type] = {}


def _class_for(map_type: int) -> type:
    by_type = {c.map_type: c for c in maps.base._all_subclasses(maps.Map)
               if c.__module__.startswith(maps.__name__ + ".")}
    base = by_type.get(map_type, maps.Map) if map_type != MapType.PERCPU_ARRAY else \
        maps.PerCPUArray
    cls = _CLASSES.get(base)
    if cls is None:
        cls = _CLASSES[base] = type(f"Object{base.__name__}", (_BTFTyped, base), {})
    return cls


def map_name(obj_name: str, spec: MapSpec) -> str:
    """The kernel's name: global data maps get the object's name as prefix (like libbpf)."""
    if spec.kind == "user":
        return spec.name
    suffix = spec.name
    prefix = obj_name[: max(0, min(8, C.BPF_OBJ_NAME_LEN - 1 - len(suffix)))]
    return (prefix + suffix)[: C.BPF_OBJ_NAME_LEN - 1]


def _attr(spec: MapSpec, name: str) -> MapCreateAttr:
    clean = "".join(c if c.isalnum() or c in "_." else "_" for c in name)
    return MapCreateAttr(map_type=spec.type, key_size=spec.key_size,
                         value_size=spec.value_size, max_entries=spec.max_entries,
                         map_flags=spec.flags, numa_node=spec.numa_node,
                         map_name=clean[: C.BPF_OBJ_NAME_LEN - 1].encode(),
                         map_extra=spec.map_extra)


def create(spec: MapSpec, name: str, btf_fd: int | None, inner_fd: int = 0) -> FD:
    """BPF_MAP_CREATE for `spec`; with the object's BTF when it is loaded (and retried
    without it if the kernel refuses the types, as libbpf does)."""
    attr = _attr(spec, name)
    attr.inner_map_fd = inner_fd
    with_btf = btf_fd is not None and (spec.key_type_id or spec.value_type_id)
    if with_btf:
        attr.btf_fd = btf_fd
        attr.btf_key_type_id = spec.key_type_id
        attr.btf_value_type_id = spec.value_type_id
    fd, err = bpf_raw(C.BPF_MAP_CREATE, attr)
    if fd < 0 and with_btf and err in (errno.EINVAL, errno.ENOTSUP, C.ENOTSUPP):
        attr.btf_fd = attr.btf_key_type_id = attr.btf_value_type_id = 0
        fd, err = bpf_raw(C.BPF_MAP_CREATE, attr)
    if fd < 0 and err == errno.EINVAL and spec.flags & C.BPF_F_MMAPABLE:
        attr.map_flags &= ~C.BPF_F_MMAPABLE
        fd, err = bpf_raw(C.BPF_MAP_CREATE, attr)
    if fd < 0:
        mtype = MapType(spec.type).name if spec.type in MapType._value2member_map_ else \
            str(spec.type)
        what = f"creating {mtype} map '{spec.name}'"
        if err == errno.EINVAL and spec.type in MapType._value2member_map_ and \
                not probe.map_type(MapType(spec.type)):
            raise NotSupportedError(f"{what}: this kernel has no {mtype} maps", err)
        if err == errno.EINVAL:
            raise BPFError(f"{what} failed: the kernel rejected key size {spec.key_size}, "
                           f"value size {spec.value_size}, max_entries {spec.max_entries} "
                           f"or flags {spec.flags:#x}", err)
        raise error_from_errno(err, what)
    return FD(fd)


def write_initial(fd: FD, spec: MapSpec, data: bytes) -> None:
    key = ctypes.create_string_buffer(b"\0\0\0\0", 4)
    value = ctypes.create_string_buffer(bytes(data), len(data))
    attr = MapElemAttr(map_fd=fd.fileno(), key=ctypes.addressof(key),
                       value=ctypes.addressof(value), flags=C.BPF_ANY)
    ret, err = bpf_raw(C.BPF_MAP_UPDATE_ELEM, attr)
    if ret < 0:
        raise error_from_errno(err, f"writing the initial contents of '{spec.name}'")


def freeze(fd: FD, spec: MapSpec) -> None:
    class _Freeze(ctypes.Structure):
        _fields_ = [("map_fd", ctypes.c_uint32)]

    ret, err = bpf_raw(C.BPF_MAP_FREEZE, _Freeze(fd.fileno()))
    if ret < 0 and err not in (errno.EINVAL, errno.ENOTSUP):  # old kernels: not frozen
        raise error_from_errno(err, f"freezing '{spec.name}'")


def wrap(fd: FD, spec: MapSpec, name: str, btf: BTF | None) -> maps.Map:
    """A `pybpf.maps` object (of the class of the map's type) over a created map."""
    cls = _class_for(spec.type)
    m = object.__new__(cls)
    m.fd = fd
    m.key_codec = codec(spec.key_size) if spec.key_size else codec(0)
    m.value_codec = codec(spec.value_size) if spec.value_size else codec(0)
    if spec.type == MapType.PERF_EVENT_ARRAY:
        m.key_codec, m.value_codec = codec("u32"), codec("u32")
    m.max_entries, m.flags, m.name = spec.max_entries, spec.flags, name
    m.btf = btf
    m.key_type_id, m.value_type_id = spec.key_type_id, spec.value_type_id
    m.spec = spec
    if hasattr(cls, "_reader"):
        m._reader = None
    return m
