"""The exporter: builds the sources (default groups and custom modules), attaches them, serves
/metrics with prometheus_client, and closes everything on stop.

A custom module is Python code: `path:` in a configuration names a .py file that is executed
(imported) here, `module:` an importable module, both with the exporter's privileges (root, or
CAP_BPF and CAP_PERFMON). A configuration must be trusted like code: anyone who can change it,
or the files it names, can run code as the exporter.

The HTTP server keeps a scraper from pinning it: a listen backlog of LISTEN_BACKLOG (a burst of
scrapers waits in the kernel instead of retrying SYNs for seconds), READ_TIMEOUT for the request
(a client that sends half a request is dropped and its thread freed), WRITE_TIMEOUT for the
response, and at most MAX_HANDLERS handler threads: when all are busy, a connection still
without its request after STALLED s is dropped to make room, else new ones wait in the backlog."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import socket
import socketserver
import sys
import threading
import time
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from pybpf.export import collector, config, defaults, metrics
from pybpf.export.collector import Collector, Source
from pybpf.session import Session

_counter = itertools.count()

LISTEN_BACKLOG = max(128, socket.SOMAXCONN)  # the kernel caps it at net.core.somaxconn
READ_TIMEOUT = 5.0  # s, per read of the request: a scraper sends it all at once
WRITE_TIMEOUT = 30.0  # s, for the whole response (sendall's time-out is for all of it)
MAX_HANDLERS = 128  # a scrape holds the GIL anyway; more threads only cost memory
STALLED = 1.0  # s without a complete request after which a connection may be dropped early
STOP_WAIT = 5.0  # s that close() waits for handlers to finish before closing the maps


def _module_error(spec: config.ModuleSpec, e: BaseException) -> config.ConfigError:
    what = spec.path or spec.module
    return config.ConfigError(spec.file, spec.line, f"module {what}: {type(e).__name__}: {e}",
                              spec.col)


def import_module(spec: config.ModuleSpec) -> Any:
    """Import (so run) the module's code: the configuration is trusted like the code itself."""
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
                                                   f"named {ms.map!r} at its top level", ms.col)
    try:
        if ms.type == "histogram":
            return metrics.Histogram(ms.name, ms.help, m, ms.labels, ms.field, ms.limit,
                                     scale=ms.scale, max_bucket=ms.max_bucket)
        cls = metrics.Counter if ms.type == "counter" else metrics.Gauge
        return cls(ms.name, ms.help, m, ms.labels, ms.field, ms.limit)
    except ValueError as e:
        raise config.ConfigError(ms.file, ms.line, f"metric {ms.name}: {e}", ms.col) from None


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
                                 "METRICS must be a list of Counter, Gauge and Histogram",
                                 spec.col)
    found = list(declared) + [_from_spec(mod, ms) for ms in spec.metrics]
    if not found:
        raise config.ConfigError(spec.file, spec.line, f"module {spec.path or spec.module} "
                                 "declares no metrics (METRICS, or metrics: in the config)",
                                 spec.col)
    if not s.programs:
        raise config.ConfigError(spec.file, spec.line, f"module {spec.path or spec.module} "
                                 "has no BPF programs at its top level", spec.col)
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


class _Handler(WSGIRequestHandler):
    """One quiet request per connection. StreamRequestHandler.setup() puts `timeout` on the
    socket, so a client that stalls before its request is complete is dropped."""

    timeout = READ_TIMEOUT
    server: _Server

    def parse_request(self) -> bool:
        ok = super().parse_request()
        # served only if the server has not dropped the connection meanwhile (stalled while
        # every handler was taken, or stopping: the maps are about to close)
        if not self.server.request_complete(self.request) or not ok:
            return False
        self.connection.settimeout(WRITE_TIMEOUT)  # a big response to a slow reader
        return True

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # timed out or reset: the client's doing, not worth a traceback
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    """A thread per connection, at most MAX_HANDLERS at once. When all are taken, the
    connection that has waited longest for its request (over STALLED s: a scraper sends it at
    once) is dropped to make room, else the next connection waits in the listen backlog.

    Every live connection is in `threads` until just before its socket is closed, and is
    shut down only under `lock` while there: never a closed (or reused) descriptor."""

    request_queue_size = LISTEN_BACKLOG  # socketserver's default of 5 drops bursts' SYNs
    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.slots = threading.BoundedSemaphore(MAX_HANDLERS)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads: dict[socket.socket, threading.Thread] = {}
        self.waiting: dict[socket.socket, float] = {}  # request not in yet: since when
        super().__init__(*args, **kwargs)

    def request_complete(self, conn: socket.socket) -> bool:
        """Whether the connection may be served (its handler has read the request)."""
        with self.lock:
            return self.waiting.pop(conn, None) is not None

    def _drop_stalled(self) -> None:
        now = time.monotonic()
        with self.lock:
            stalled = [c for c, since in self.waiting.items() if now - since >= STALLED]
            if stalled:
                oldest = min(stalled, key=self.waiting.__getitem__)
                del self.waiting[oldest]
                _wake(oldest)

    def process_request(self, request: Any, client_address: Any) -> None:
        # on serve_forever's thread: while every slot is taken, make room or wait (the kernel
        # queues the next connections meanwhile); a dropped handler frees its slot at once
        while not self.slots.acquire(blocking=False):
            if self.stopping.is_set():
                self.shutdown_request(request)
                return
            self._drop_stalled()
            if self.slots.acquire(timeout=0.25):
                break
        t = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                             daemon=True)
        with self.lock:
            self.threads[request] = t
            self.waiting[request] = time.monotonic()
        try:
            t.start()
        except BaseException:
            with self.lock:
                del self.threads[request]
                self.waiting.pop(request, None)
            self.shutdown_request(request)
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - as socketserver's: reported, the server goes on
            self.handle_error(request, client_address)
        finally:
            with self.lock:
                del self.threads[request]
                self.waiting.pop(request, None)
            self.shutdown_request(request)
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # a client gone or stalled
            return
        super().handle_error(request, client_address)

    def stop(self, wait: float = STOP_WAIT) -> None:
        """Stop accepting, wake every handler by shutting its connection down (a stalled one
        would hold its thread until its time-out), and give them `wait` s to finish, so none
        reads a map after the exporter closes it."""
        self.stopping.set()
        self.shutdown()  # serve_forever has returned: nothing adds connections any more
        with self.lock:
            self.waiting.clear()  # none is served from now on
            for conn in self.threads:
                _wake(conn)
            threads = list(self.threads.values())
        deadline = time.monotonic() + wait
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.server_close()


def _wake(conn: socket.socket) -> None:
    """Make the handler's blocked read or write on `conn` return at once."""
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:  # the client already closed it
        pass


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
        from prometheus_client import make_wsgi_app

        # what prometheus_client's start_http_server does, with _Server's limits
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                       flags=socket.AI_PASSIVE)[0]
        cls = type("_Server", (_Server,), {"address_family": family})
        self.httpd = cls((sockaddr[0], port), _Handler)
        self.httpd.set_app(make_wsgi_app(self.registry))
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="pybpf-export-http",
                                       daemon=True)
        self.thread.start()
        h, p = self.httpd.server_address[:2]
        return h, p

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.httpd is not None:
            self.httpd.stop()
        for src in self.sources:
            src.session.close()
        if self.stats_fd is not None:
            self.stats_fd.close()

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
