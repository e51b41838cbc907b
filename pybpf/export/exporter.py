"""The exporter: builds the sources (default groups and custom modules), attaches them, serves
/metrics with prometheus_client, and closes everything on stop."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import sys
from typing import Any

from pybpf.export import collector, config, defaults, metrics
from pybpf.export.collector import Collector, Source
from pybpf.session import Session

_counter = itertools.count()


def _module_error(spec: config.ModuleSpec, e: BaseException) -> config.ConfigError:
    what = spec.path or spec.module
    return config.ConfigError(spec.file, spec.line, f"module {what}: {type(e).__name__}: {e}")


def import_module(spec: config.ModuleSpec) -> Any:
    try:
        if spec.module:
            return importlib.import_module(spec.module)
        assert spec.path is not None
        stem = os.path.splitext(os.path.basename(spec.path))[0]
        name = f"pybpf_export_{stem}_{next(_counter)}"
        mspec = importlib.util.spec_from_file_location(name, spec.path)
        if mspec is None or mspec.loader is None:
            raise ImportError(f"cannot import {spec.path}")
        mod = importlib.util.module_from_spec(mspec)
        sys.modules[name] = mod  # inspect (and so the compiler) finds the source by module
        mspec.loader.exec_module(mod)
        return mod
    except config.ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure in the user's module is a config error
        raise _module_error(spec, e) from None


def _from_spec(mod: Any, ms: config.MetricSpec) -> metrics.Metric:
    from pybpf.maps import Map

    m = getattr(mod, ms.map, None)
    if not isinstance(m, Map):
        raise config.ConfigError(ms.file, ms.line, f"metric {ms.name}: the module has no map "
                                                   f"named {ms.map!r} at its top level")
    try:
        if ms.type == "histogram":
            return metrics.Histogram(ms.name, ms.help, m, ms.labels, ms.field, ms.limit,
                                     scale=ms.scale, max_bucket=ms.max_bucket)
        cls = metrics.Counter if ms.type == "counter" else metrics.Gauge
        return cls(ms.name, ms.help, m, ms.labels, ms.field, ms.limit)
    except ValueError as e:
        raise config.ConfigError(ms.file, ms.line, f"metric {ms.name}: {e}") from None


def module_source(spec: config.ModuleSpec) -> Source:
    """The programs, maps and metrics of a custom module (compiled, not yet attached)."""
    from pybpf.compiler.api import CompiledProgram, FunctionProgram
    from pybpf.maps import Map

    mod = import_module(spec)
    s = Session()
    for v in vars(mod).values():
        if isinstance(v, CompiledProgram) and not isinstance(v, FunctionProgram):
            s.program(v)
        elif isinstance(v, Map):
            s.map(v)
    declared = getattr(mod, "METRICS", [])
    if not isinstance(declared, (list, tuple)) or \
            not all(isinstance(m, metrics.Metric) for m in declared):
        raise config.ConfigError(spec.file, spec.line, f"module {spec.path or spec.module}: "
                                 "METRICS must be a list of Counter, Gauge and Histogram")
    found = list(declared) + [_from_spec(mod, ms) for ms in spec.metrics]
    if not found:
        raise config.ConfigError(spec.file, spec.line, f"module {spec.path or spec.module} "
                                 "declares no metrics (METRICS, or metrics: in the config)")
    if not s.programs:
        raise config.ConfigError(spec.file, spec.line, f"module {spec.path or spec.module} "
                                 "has no BPF programs at its top level")
    for m in found:
        if m.limit is None:
            m.limit = spec.limit
    try:
        s.compile()
    except Exception as e:  # noqa: BLE001 - CompileError and the like, with their position
        s.close()
        raise _module_error(spec, e) from None
    name = spec.module or os.path.basename(spec.path or "")
    return Source(name, s, found)


class Exporter:
    """Owns every kernel object of the exporter; `start()` attaches, `serve()` listens,
    `close()` stops serving and detaches (idempotent)."""

    def __init__(self, cfg: config.Config | None = None,
                 warn: Any = lambda msg: print(f"pybpf export: {msg}", file=sys.stderr)
                 ) -> None:
        self.cfg = cfg or config.Config()
        self.warn = warn
        self.sources: list[Source] = []
        self.collector: Collector | None = None
        self.registry: Any = None
        self.stats_fd: Any = None
        self.httpd: Any = None
        self.thread: Any = None
        self.closed = False

    def build(self) -> None:
        cfg = self.cfg
        groups = list(defaults.GROUPS) if cfg.defaults is None else cfg.defaults
        try:
            for spec in cfg.modules:
                self.sources.append(module_source(spec))
            for g in groups:
                self.sources.append(defaults.GROUPS[g]())
            self.collector = Collector(self.sources, cfg.limit or collector.DEFAULT_LIMIT,
                                       cfg.limits)
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        """Attach every source (a default group whose hooks this kernel lacks is left out with
        a warning; a custom module's failure is an error), then register the collector."""
        from prometheus_client import CollectorRegistry

        from pybpf.sys import BPFError

        if self.collector is None:
            self.build()
        try:
            from pybpf.program import enable_stats

            try:
                self.stats_fd = enable_stats()
            except (BPFError, OSError) as e:
                self.warn(f"run-time statistics unavailable ({e}); program run metrics stay 0")
            kept = []
            for src in self.sources:
                try:
                    src.session.attach()
                    kept.append(src)
                except BPFError as e:
                    if src.name not in defaults.GROUPS:
                        raise
                    self.warn(f"leaving out the {src.name} metrics: {e}")
            self.sources[:] = kept
            assert self.collector is not None
            self.collector.guards = {k: g for k, g in self.collector.guards.items()
                                     if any(g.metric in s.metrics for s in kept)}
            self.registry = CollectorRegistry(auto_describe=False)
            self.registry.register(self.collector)  # type: ignore[arg-type]
        except BaseException:
            self.close()
            raise

    def serve(self, host: str = "127.0.0.1", port: int = 9435) -> tuple[str, int]:
        """Listen (in a thread); returns the bound address (port 0 picks a free one)."""
        from prometheus_client import start_http_server

        self.httpd, self.thread = start_http_server(port, addr=host, registry=self.registry)
        h, p = self.httpd.server_address[:2]
        return h, p

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        for src in self.sources:
            src.session.close()
        if self.stats_fd is not None:
            self.stats_fd.close()

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
