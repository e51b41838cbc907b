"""The exporter's HTTP server against bursts and stalled scrapers, on loopback and without BPF
(a registry with one counter stands in for the collector): a burst of 200 concurrent scrapes
all answered (the listen backlog is not socketserver's 5), half-sent requests dropped after
the read time-out with their threads released, at most MAX_HANDLERS threads meanwhile, and
close() dropping stalled connections at once.

Time bounds are generous (the read time-out is 5 s; every wait here allows 30 s or more)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from pybpf.export import exporter as exporter_mod
from pybpf.export.exporter import Exporter

HALF_REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # never the blank line
CAP = getattr(exporter_mod, "MAX_HANDLERS", 128)


def _serve() -> tuple[Exporter, str]:
    from prometheus_client import CollectorRegistry
    from prometheus_client import Counter as PCounter

    ex = Exporter()
    ex.registry = CollectorRegistry()
    PCounter("test_server_up", "a constant", registry=ex.registry).inc(7)
    host, port = ex.serve("127.0.0.1", 0)
    return ex, f"http://{host}:{port}/metrics"


@pytest.fixture
def server() -> Iterator[tuple[Exporter, str]]:
    ex, url = _serve()
    try:
        yield ex, url
    finally:
        ex.close()


def _scrape(url: str, timeout: float = 30, accept: str | None = None) -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def _half_sent(url: str, n: int) -> list[socket.socket]:
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(HALF_REQUEST)
        out.append(s)
    return out


def _closed_by_server(s: socket.socket, timeout: float) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""  # no response at all: the request was never complete
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _handlers() -> int:
    """Request-handler threads alive in this process (socketserver names them after their
    target, before the fix and after)."""
    return sum("process_request_thread" in t.name for t in threading.enumerate())


def _wait_handlers(at_most: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while _handlers() > at_most and time.monotonic() < deadline:
        time.sleep(0.05)
    return _handlers()


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_listen_backlog_is_large(server: tuple[Exporter, str]) -> None:
    _, url = server
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    # for a listening socket, ss's Send-Q column is the backlog given to listen()
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True, timeout=30).stdout.split()
    assert out and int(out[2]) >= 128, out


def test_burst_of_200_concurrent_scrapes(server: tuple[Exporter, str]) -> None:
    _, url = server
    n = 200
    barrier = threading.Barrier(n)
    failures: list[str] = []
    bodies: list[bytes] = []

    def one() -> None:
        barrier.wait()
        try:
            bodies.append(_scrape(url))
        except OSError as e:
            failures.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, f"{len(failures)} of {n} failed: {failures[:3]}"
    assert len(bodies) == n and all(b"test_server_up_total 7.0" in b for b in bodies)


def test_half_sent_requests_are_dropped_and_threads_released(
        server: tuple[Exporter, str]) -> None:
    _, url = server
    _scrape(url)
    assert _wait_handlers(0) == 0
    idle = _half_sent(url, 300)
    try:
        # the handlers take them up; never more than MAX_HANDLERS threads at once
        peak = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            peak = max(peak, _handlers())
            time.sleep(0.02)
        assert 0 < peak <= CAP, peak
        # a real scrape still gets through meanwhile
        assert b"test_server_up_total 7.0" in _scrape(url, timeout=30)
        # every half-sent request is dropped (after the read time-out, or to make room)
        deadline = time.monotonic() + 40
        for s in idle:
            assert _closed_by_server(s, max(0.1, deadline - time.monotonic()))
        assert _wait_handlers(0) == 0
    finally:
        for s in idle:
            s.close()
    assert b"test_server_up_total 7.0" in _scrape(url)


def test_close_drops_stalled_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    # a read time-out far beyond the waits below: only close() can free these connections
    # (a server with no _Handler has no time-out at all)
    handler = getattr(exporter_mod, "_Handler", None)
    if handler is not None:
        monkeypatch.setattr(handler, "timeout", 600.0)
    ex, url = _serve()
    idle: list[socket.socket] = []
    try:
        _scrape(url)
        idle = _half_sent(url, 20)
        deadline = time.monotonic() + 30
        while _handlers() < 20 and time.monotonic() < deadline:
            time.sleep(0.02)  # the 20 handlers are waiting for the rest of their requests
        assert _handlers() >= 20
    finally:
        ex.close()
    try:
        assert all(_closed_by_server(s, 30) for s in idle)
        assert _wait_handlers(0) == 0
    finally:
        for s in idle:
            s.close()


def test_serves_openmetrics_and_ipv6() -> None:
    ex, url = _serve()
    try:
        assert _scrape(url, accept="application/openmetrics-text").endswith(b"# EOF\n")
    finally:
        ex.close()
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    from prometheus_client import CollectorRegistry

    ex = Exporter()
    ex.registry = CollectorRegistry()
    try:
        host, port = ex.serve("::1", 0)
        assert host == "::1"
        assert _scrape(f"http://[::1]:{port}/metrics") == b""
    finally:
        ex.close()
