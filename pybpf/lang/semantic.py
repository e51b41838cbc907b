"""Program-wide facts found before lowering: the type of every map (keys, value, aggregate
kind), agreed across all probes, and the records that go to user space. Type mismatches are
errors at the place of the second use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler import ir
from pybpf.compiler.errors import Loc
from pybpf.lang.errors import LangError
from pybpf.lang.types import LT, UINT64, merge, same_shape, tuple_ir

AGGREGATES = ("count", "sum", "avg", "min", "max", "stats", "hist", "lhist")


@dataclass
class MapInfo:
    name: str
    kind: str = "value"  # "value" (plain assignment) or one of AGGREGATES
    keys: tuple[LT, ...] | None = None
    value: LT | None = None
    lhist: tuple[int, int, int] | None = None
    loc: Loc | None = None
    ref: ir.MapRef | None = None

    @property
    def display(self) -> str:
        return f"@{self.name}"

    @property
    def key_lt(self) -> LT:
        keys = self.keys or ()
        if self.kind in ("hist", "lhist"):
            return LT("tuple", items=(*keys, UINT64))
        if not keys:
            return UINT64
        if len(keys) == 1:
            return keys[0]
        return LT("tuple", items=keys)

    @property
    def value_lt(self) -> LT:
        if self.kind in ("avg", "stats"):
            return LT("tuple", items=(UINT64, LT("int", 64, True)))
        if self.kind in ("count", "hist", "lhist"):
            return UINT64
        if self.kind in ("sum", "min", "max"):
            return self.value or LT("int", 64, True)
        return self.value or LT("int", 64, True)

    def ir_key(self) -> Any:
        lt = self.key_lt
        return tuple_ir(lt.items) if lt.kind == "tuple" else lt.ir()


@dataclass
class Record:
    """A message to user space: header id, then `args` (a tuple layout)."""

    id: int
    kind: str  # printf, exit, time, print, print_value, clear, zero, system, cat, join, ...
    fmt: str = ""
    args: tuple[LT, ...] = ()
    extra: Any = None

    @property
    def lt(self) -> LT:
        return LT("tuple", items=(UINT64, *self.args))


@dataclass
class Symbols:
    maps: dict[str, MapInfo] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    final: bool = False  # second pass: map types are settled

    def map(self, name: str) -> MapInfo:
        info = self.maps.get(name)
        if info is None:
            info = self.maps[name] = MapInfo(name)
        return info

    def use_keys(self, info: MapInfo, keys: tuple[LT, ...], loc: Loc) -> None:
        keys = tuple(k.widened() for k in keys)
        if info.keys is None:
            info.keys, info.loc = keys, loc
            return
        if len(keys) != len(info.keys) or not all(
                same_shape(a, b) for a, b in zip(keys, info.keys, strict=True)):
            raise LangError(f"type mismatch for {info.display}: it has keys of type "
                            f"{_keys(info.keys)}, here {_keys(keys)}", loc)
        info.keys = tuple(merge(a, b) for a, b in zip(info.keys, keys, strict=True))

    def use_value(self, info: MapInfo, kind: str, value: LT | None, loc: Loc) -> None:
        if self.final:
            if info.kind != kind or (value is not None and info.value is not None
                                     and not same_shape(info.value, value.widened())):
                raise LangError(f"type mismatch for {info.display}: it holds {_what(info)}, "
                                f"here {'a value of type ' + str(value) if kind == 'value' else kind + '()'}",
                                loc)
            return
        if info.kind != kind and (info.value is not None or info.kind != "value"):
            raise LangError(f"type mismatch for {info.display}: it holds {_what(info)}, here "
                            f"{'a value of type ' + str(value) if kind == 'value' else kind + '()'}",
                            loc)
        info.kind = kind
        if value is not None:
            value = value.widened()
            if info.value is None:
                info.value = value
            elif not same_shape(info.value, value):
                raise LangError(f"type mismatch for {info.display}: it holds "
                                f"{info.value}, here {value}", loc)
            else:
                info.value = merge(info.value, value)

    def record(self, kind: str, fmt: str = "", args: tuple[LT, ...] = (),
               extra: Any = None) -> Record:
        r = Record(len(self.records), kind, fmt, args, extra)
        self.records.append(r)
        return r


def _keys(keys: tuple[LT, ...]) -> str:
    return "[" + ", ".join(map(str, keys)) + "]" if keys else "none"


def _what(info: MapInfo) -> str:
    if info.kind == "value":
        return f"values of type {info.value}"
    return f"{info.kind}()"
