"""Reading the kernel's maps at scrape time and turning them into Prometheus metric families
(a `prometheus_client` custom collector), with the cardinality guard and the exporter's own
health metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.core import (
    Metric as Family,
)
from prometheus_client.utils import floatToGoString

from pybpf.export import buckets, decoders
from pybpf.export.metrics import Histogram, Metric, split_key

OVERFLOW = "__overflow__"  # every label of the series that holds the label sets over the limit
DEFAULT_LIMIT = 2000


@dataclass
class Source:
    """One group of programs and the metrics read from their maps: a default group
    ("syscalls", "block"...) or a custom module."""
    name: str
    session: Any  # pybpf.session.Session
    metrics: list[Metric]


@dataclass
class SeriesGuard:
    """The label sets a metric exports: the first `limit` seen, kept for the exporter's life
    (so every exported series stays continuous); the others are added into one series whose
    labels are all "__overflow__" and counted in pybpf_export_series_overflow. Memory is
    bounded by `limit` label sets and a decode cache of 2 * limit keys."""
    metric: Metric
    limit: int
    admitted: set[tuple[str, ...]] = field(default_factory=set)
    cache: decoders.BoundedCache = field(init=False)
    decode_errors: int = 0
    overflow: int = 0
    exported: int = 0

    def __post_init__(self) -> None:
        self.cache = decoders.BoundedCache(2 * self.limit)

    def labels(self, parts: tuple[Any, ...]) -> tuple[str, ...]:
        hit = self.cache.get(parts)
        if hit is not None:
            return hit  # type: ignore[return-value]
        out = []
        for lb, v in zip(self.metric.labels, parts, strict=True):
            if lb.dropped:
                continue
            try:
                out.append(lb.decoder(v))
            except Exception:  # noqa: BLE001 - any decoder failure is counted, not fatal
                self.decode_errors += 1
                out.append(str(v))
        return self.cache.put(parts, tuple(out))  # type: ignore[arg-type]

    def admit(self, series: dict[tuple[str, ...], Any], merge: Any) -> dict[tuple[str, ...], Any]:
        out: dict[tuple[str, ...], Any] = {}
        over_key = tuple(OVERFLOW for _ in self.metric.label_names)
        overflow = 0
        for labels, value in series.items():
            if labels in self.admitted or not labels or (len(self.admitted) < self.limit
                                                         and labels != over_key):
                self.admitted.add(labels)
                out[labels] = value
            else:
                overflow += 1
                out[over_key] = merge(out.get(over_key), value)
        self.overflow = overflow
        self.exported = len(out)
        return out


def _add(a: int | None, b: int) -> int:
    return b if a is None else a + b


def _merge_hist(a: dict[int, int] | None, b: dict[int, int]) -> dict[int, int]:
    if a is None:
        return dict(b)
    for k, n in b.items():
        a[k] = a.get(k, 0) + n
    return a


class Collector:
    """A prometheus_client collector over the exporter's sources. `collect()` runs on each
    scrape (under a lock: scrapes may come in parallel)."""

    def __init__(self, sources: list[Source], default_limit: int = DEFAULT_LIMIT,
                 limits: dict[str, int] | None = None) -> None:
        self.sources = sources
        self.lock = threading.Lock()
        self.guards: dict[str, SeriesGuard] = {}
        self.read_errors: dict[str, int] = {}
        self.entries: dict[str, int] = {}
        self.scrapes = 0
        self.last_duration = 0.0
        limits = limits or {}
        for src in sources:
            for m in src.metrics:
                if m.name in self.guards:
                    raise ValueError(f"metric {m.name} is declared twice")
                limit = limits.get(m.name) or m.limit or default_limit
                self.guards[m.name] = SeriesGuard(m, limit)

    # -- one metric -------------------------------------------------------------------------
    def _items(self, m: Metric) -> list[tuple[Any, Any]]:
        try:
            items = list(m.map.items())
            self.entries[m.name] = len(items)
            return items
        except Exception:  # noqa: BLE001 - a map that cannot be read is reported, not fatal
            self.read_errors[m.name] = self.read_errors.get(m.name, 0) + 1
            return []

    def _counter(self, g: SeriesGuard) -> Family:
        m = g.metric
        fam_cls = CounterMetricFamily if m.kind == "counter" else GaugeMetricFamily
        fam = fam_cls(m.name, m.help, labels=m.label_names)
        n = len(m.labels)
        series: dict[tuple[str, ...], int] = {}
        for key, value in self._items(m):
            try:
                parts, _ = split_key(key, n)
                v = m.value_of(value)
            except (decoders.DecodeError, AttributeError, TypeError, ValueError):
                g.decode_errors += 1
                continue
            labels = g.labels(parts)
            series[labels] = series.get(labels, 0) + v
        if not m.label_names and not series:
            series[()] = 0  # a metric without labels is always present
        for labels, v in g.admit(series, _add).items():
            fam.add_metric(list(labels), v)
        return fam

    def _histogram(self, g: SeriesGuard) -> Family:
        m = g.metric
        assert isinstance(m, Histogram)
        fam = HistogramMetricFamily(m.name, m.help, labels=m.label_names)
        n = len(m.labels)
        series: dict[tuple[str, ...], dict[int, int]] = {}
        for key, value in self._items(m):
            try:
                parts, bucket = split_key(key, n)
                if not isinstance(bucket, int):
                    raise decoders.DecodeError("no bucket in the key")
                v = m.value_of(value)
            except (decoders.DecodeError, AttributeError, TypeError, ValueError):
                g.decode_errors += 1
                continue
            per = series.setdefault(g.labels(parts), {})
            per[bucket] = per.get(bucket, 0) + v
        if not m.label_names and not series:
            series[()] = {}
        for labels, per in g.admit(series, _merge_hist).items():
            c = buckets.cumulative(per, m.max_bucket, m.scale)
            bs = [(floatToGoString(le), float(cum)) for le, cum in c.buckets]
            total = buckets.scaled(c.sum, m.scale)
            fam.add_metric(list(labels), bs, total)
        return fam

    # -- everything -------------------------------------------------------------------------
    def collect(self) -> Iterator[Family]:
        with self.lock:
            t0 = time.perf_counter()
            out: list[Family] = []
            for g in self.guards.values():
                if g.metric.kind == "histogram":
                    out.append(self._histogram(g))
                else:
                    out.append(self._counter(g))
            out += self._programs()
            out += self._maps()
            self.scrapes += 1
            out += self._health()
            self.last_duration = time.perf_counter() - t0
        yield from out

    def _programs(self) -> list[Family]:
        runs = CounterMetricFamily("pybpf_program_runs", "Times the exporter's BPF program "
                                   "ran (kernel statistics)", labels=["program", "source"])
        secs = CounterMetricFamily("pybpf_program_run_seconds", "Time spent running the "
                                   "exporter's BPF program (kernel statistics)",
                                   labels=["program", "source"])
        att = GaugeMetricFamily("pybpf_program_attached", "1 while the program is attached",
                                labels=["program", "source"])
        for src in self.sources:
            linked = {id(a.owner) for a in src.session.attachments
                      if getattr(a, "link", None) is not None}
            for p in src.session.programs:
                prog = getattr(p, "_program", None)
                labels = [p.__name__, src.name]
                attached = prog is not None and not prog.closed and id(p) in linked
                att.add_metric(labels, 1.0 if attached else 0.0)
                if prog is None or prog.closed:
                    continue
                try:
                    st = prog.stats()
                except Exception:  # noqa: BLE001
                    continue
                runs.add_metric(labels, st.run_cnt)
                secs.add_metric(labels, st.run_time_ns / 1e9)
        return [runs, secs, att]

    def _maps(self) -> list[Family]:
        entries = GaugeMetricFamily("pybpf_export_map_entries", "Entries in a metric's map "
                                    "at the last read (at max_entries the kernel drops new "
                                    "keys)", labels=["metric"])
        cap = GaugeMetricFamily("pybpf_export_map_max_entries", "A metric's map size limit",
                                labels=["metric"])
        for name, g in self.guards.items():
            entries.add_metric([name], self.entries.get(name, 0))
            cap.add_metric([name], getattr(g.metric.map, "max_entries", 0))
        return [entries, cap]

    def _health(self) -> list[Family]:
        errs = CounterMetricFamily("pybpf_export_decode_errors", "Map keys or values that "
                                   "could not be decoded (exported as the raw number, or "
                                   "skipped)", labels=["metric"])
        over = GaugeMetricFamily("pybpf_export_series_overflow", "Label sets over the "
                                 "metric's series limit, added into its __overflow__ series",
                                 labels=["metric"])
        series = GaugeMetricFamily("pybpf_export_series", "Series the metric exports",
                                   labels=["metric"])
        limit = GaugeMetricFamily("pybpf_export_series_limit", "The metric's series limit",
                                  labels=["metric"])
        reads = CounterMetricFamily("pybpf_export_map_read_errors", "Failed map reads",
                                    labels=["metric"])
        for name, g in self.guards.items():
            errs.add_metric([name], g.decode_errors)
            over.add_metric([name], g.overflow)
            series.add_metric([name], g.exported)
            limit.add_metric([name], g.limit)
            reads.add_metric([name], self.read_errors.get(name, 0))
        total = 0
        for src in self.sources:
            for mp in src.session.maps:
                fn = getattr(mp, "lost", None)
                if callable(fn):
                    try:
                        total += int(fn())
                    except Exception:  # noqa: BLE001
                        pass
        lost = CounterMetricFamily("pybpf_export_lost_events", "Events the kernel could not "
                                   "pass to the exporter (perf buffer losses)", value=total)
        dur = GaugeMetricFamily("pybpf_export_last_scrape_seconds", "Duration of the "
                                "previous collection", value=self.last_duration)
        n = CounterMetricFamily("pybpf_export_scrapes", "Collections served",
                                value=self.scrapes)
        return [errs, over, series, limit, reads, lost, dur, n]
