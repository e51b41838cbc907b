"""Metric declarations: which map a metric reads, how its keys become labels.

    opens = maps.Hash(key=(u32, s32), value=u64, max_entries=4096)
    lat = maps.Hash(key=(u32, u64), value=u64, max_entries=4096)     # (dev, bucket)

    METRICS = [
        Counter("myapp_opens_total", "openat() calls by uid and result", opens,
                labels=[("uid", "int"), ("result", "errno")]),
        Histogram("myapp_io_seconds", "I/O latency", lat, labels=[("device", "disk")],
                  scale=1e-9),
    ]

Counter: each map entry is one series; the key's components give the labels in order (a
scalar key for one label; with no labels every entry adds to the one series). A label named
"_" drops its key component and the entries that differ only there are added up. The value is
an integer, a struct whose `field` is read, or per-CPU values (added up).

Histogram: the key is (labels..., bucket) as `observe()` fills it (just the bucket without
labels), the bucket index under SUM_SLOT holding the sum; `scale` converts the kernel's unit
to the exported one (1e-9: nanoseconds to seconds), `max_bucket` is the last finite bound
2^max_bucket (in the kernel's unit; larger values count only in +Inf).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pybpf.export import decoders

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
DEFAULT_MAX_BUCKET = 36  # 2^36 ns = 68.7 s


@dataclass
class Label:
    name: str  # "_": the key component is summed over, not exported
    decoder: decoders.Decoder = decoders.dec_int
    spec: Any = "int"

    @property
    def dropped(self) -> bool:
        return self.name == "_"


def labels_of(specs: Iterable[Any]) -> list[Label]:
    out = []
    for s in specs:
        if isinstance(s, Label):
            out.append(s)
            continue
        if isinstance(s, str):
            name, spec = s, "int"
        else:
            name, spec = s
        if name != "_" and (not LABEL_RE.match(name) or name.startswith("__")):
            raise ValueError(f"{name!r} is not a valid label name")
        out.append(Label(name, decoders.resolve(spec), spec))
    names = [lb.name for lb in out if not lb.dropped]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate label names in {names}")
    return out


@dataclass
class Metric:
    name: str
    help: str
    map: Any
    labels: Sequence[Any] = ()
    field: str | None = None
    limit: int | None = None  # series; None: the exporter's default
    kind: str = dataclasses.field(default="counter", init=False)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"{self.name!r} is not a valid Prometheus metric name")
        self.labels = labels_of(self.labels)
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"{self.name}: the series limit must be at least 1")

    @property
    def label_names(self) -> list[str]:
        return [lb.name for lb in self.labels if not lb.dropped]

    def value_of(self, v: Any) -> int:
        if self.field is not None:
            v = getattr(v, self.field)
        if isinstance(v, list):
            return sum(int(getattr(x, self.field) if self.field and not isinstance(x, int)
                           else x) for x in v)
        return int(v)


@dataclass
class Counter(Metric):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "counter"
        if not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r}: counter names end in _total")


@dataclass
class Gauge(Metric):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "gauge"


@dataclass
class Histogram(Metric):
    scale: float = 1.0
    max_bucket: int = DEFAULT_MAX_BUCKET

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "histogram"
        if not 0 <= self.max_bucket <= 64:
            raise ValueError(f"histogram {self.name}: max_bucket must be within 0..64")
        if "le" in self.label_names:
            raise ValueError(f"histogram {self.name}: 'le' is reserved for the buckets")


def split_key(key: Any, n: int) -> tuple[tuple[Any, ...], Any]:
    """(the first n key components, the rest: the bucket of a histogram, or None)."""
    parts = key if isinstance(key, tuple) else (key,)
    if len(parts) < n:
        raise decoders.DecodeError(f"a key of {len(parts)} components for {n} labels")
    rest = parts[n:]
    return tuple(parts[:n]), (rest[0] if len(rest) == 1 else rest or None)
