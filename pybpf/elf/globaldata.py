"""The variables of a global data section (`.rodata`, `.data`, `.bss`, `.kconfig`) by name,
skeleton-style: `obj.rodata.target_pid = 42` before load sets an option the program reads as
a constant; after load `.data` and `.bss` variables read and write the live map."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pybpf.btf import BTF
from pybpf.btf import types as t
from pybpf.elf import values
from pybpf.elf.mapspec import MapSpec


class GlobalData:
    """Variables of one data section. Before load the values live in the object's copy of
    the section; after load they are read from (and, unless read-only, written to) the map."""

    def __init__(self, spec: MapSpec, btf: BTF | None, symbols: dict[str, tuple[int, int]]):
        object.__setattr__(self, "_spec", spec)
        object.__setattr__(self, "_btf", btf)
        object.__setattr__(self, "_map", None)
        layout: dict[str, tuple[int, int, t.Type | None]] = {}
        if btf is not None and spec.value_type_id:
            sec = btf.type_by_id(spec.value_type_id)
            assert isinstance(sec, t.Datasec)
            for v in sec.vars:
                var = v.type
                assert isinstance(var, t.Var)
                off, _ = symbols.get(var.name, (v.offset, v.size))
                layout[var.name] = (off, v.size, var.type)
        for name, (off, size) in symbols.items():
            layout.setdefault(name, (off, size, None))
        object.__setattr__(self, "_layout", layout)

    # -- state ----------------------------------------------------------------------------
    def _bind(self, live_map: Any) -> None:
        object.__setattr__(self, "_map", live_map)

    def _bytes(self) -> bytes:
        if self._map is not None and not self._map.fd.closed:
            raw = self._map.lookup_raw(b"\0\0\0\0")
            return raw or b""
        return self._spec.initial or b""

    @property
    def section(self) -> str:
        return self._spec.section

    def names(self) -> list[str]:
        return list(self._layout)

    def __iter__(self) -> Iterator[str]:
        return iter(self._layout)

    def __contains__(self, name: object) -> bool:
        return name in self._layout

    def _where(self, name: str) -> tuple[int, int, t.Type | None]:
        try:
            return self._layout[name]
        except KeyError:
            known = ", ".join(self._layout) or "none"
            raise KeyError(f"{self._spec.section} has no variable {name!r} (it has: "
                           f"{known})") from None

    # -- values ---------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        off, size, typ = self._where(name)
        raw = self._bytes()[off:off + size]
        if typ is None or self._btf is None:
            return raw
        return values.decode(self._btf, typ, raw)

    def __setitem__(self, name: str, value: Any) -> None:
        off, size, typ = self._where(name)
        data = bytearray(self._bytes())
        if typ is not None and self._btf is not None:
            raw = values.encode(self._btf, typ, value, bytes(data[off:off + size]))
        elif isinstance(value, bytes | bytearray) and len(value) == size:
            raw = bytes(value)
        elif isinstance(value, int):
            raw = value.to_bytes(size, "little", signed=value < 0)
        else:
            raise ValueError(f"{name}: give {size} bytes or an int (the object has no BTF)")
        data[off:off + size] = raw
        if self._map is None:
            self._spec.initial = bytes(data)
            return
        if self._spec.readonly:
            raise PermissionError(f"{self._spec.section} is read-only once the object is "
                                  f"loaded: set {name} before load()")
        self._map.update_raw(b"\0\0\0\0", bytes(data))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(str(e)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def to_dict(self) -> dict[str, Any]:
        return {name: self[name] for name in self._layout}

    def __repr__(self) -> str:
        return f"<GlobalData {self._spec.section} {self.to_dict()!r}>"
