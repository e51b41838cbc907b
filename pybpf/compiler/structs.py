"""`bpf.Struct`: small C structs declared as Python classes, for ring buffer events and map
keys/values, usable both in compiled code and in plain Python.

    class Event(bpf.Struct):
        pid: u32
        comm: "char[16]"
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, ClassVar, Self

from pybpf.types import Codec, codec


class Struct:
    _ctype_: ClassVar[type[ctypes.Structure]]
    _members_: ClassVar[tuple[tuple[str, int, Codec], ...]]  # (name, offset, codec)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        annotations = cls.__dict__.get("__annotations__", {})
        module_globals = vars(sys.modules.get(cls.__module__, sys))
        codecs: list[tuple[str, Codec]] = []
        for name, spec in annotations.items():
            if name.startswith("_"):
                continue
            codecs.append((name, _resolve(spec, module_globals, cls.__name__, name)))
        if not codecs:
            raise TypeError(f"struct {cls.__name__} declares no fields")
        fields = [(n, c.ctype if c.ctype is not None else ctypes.c_uint8 * c.size)
                  for n, c in codecs]
        cls._ctype_ = type(cls.__name__, (ctypes.Structure,), {"_fields_": fields})
        cls._members_ = tuple((n, getattr(cls._ctype_, n).offset, c) for n, c in codecs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = [n for n, _, _ in self._members_]
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} fields")
        values = dict(zip(names, args, strict=False))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{type(self).__name__} has no field {k!r}")
            values[k] = v
        for name, _, c in self._members_:
            setattr(self, name, values.get(name, c.unpack(bytes(c.size))))

    @classmethod
    def size(cls) -> int:
        return ctypes.sizeof(cls._ctype_)

    def to_bytes(self) -> bytes:
        out = bytearray(ctypes.sizeof(self._ctype_))
        for name, off, c in self._members_:
            out[off:off + c.size] = c.pack(getattr(self, name))
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> Self:
        data = bytes(data)
        obj = cls.__new__(cls)
        for name, off, c in cls._members_:
            setattr(obj, name, c.unpack(data[off:off + c.size]))
        return obj

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n, _, _ in self._members_)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n, _, _ in self._members_)
        return f"{type(self).__name__}({inner})"

    def as_dict(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n, _, _ in self._members_}


def _resolve(spec: Any, env: dict[str, Any], owner: str, field: str) -> Codec:
    try:
        return codec(spec)
    except TypeError:
        pass
    if isinstance(spec, str):  # `from __future__ import annotations`: a name to look up
        try:
            return codec(eval(spec, env))  # noqa: S307 - the class's own annotation
        except Exception:
            pass
    raise TypeError(f"{owner}.{field}: unknown type {spec!r}; use u8..u64, s8..s64, "
                    "'char[N]', another bpf.Struct or a ctypes type")
