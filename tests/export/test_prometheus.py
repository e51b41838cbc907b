"""`pybpf export` scraped by a real Prometheus (Debian's package) on 127.0.0.1 every second:
known numbers of getppid() calls, TCP connections and block writes show up in Prometheus's
HTTP API; SIGTERM ends the exporter with exit 0 and every program it loaded gone.

Tolerances: the kernel counts every getppid() and every connection exactly, and Prometheus
stores the counter's value as scraped, so the delta between two scrapes taken before and
after our calls is our count plus whatever other processes did in those few seconds: the
lower bound is exact. Other processes are bursty (a shell calls getppid() dozens of times at
once; other tests connect over loopback), so the upper bound allows 3x the background rate
measured just before, plus 1% of the getppid() calls (500) and 10% of the connections (20)
for a burst that the measurement missed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.skipif(shutil.which("prometheus") is None,
                                                reason="needs the prometheus server")]
GETPPID_CALLS = 50000
CONNECTIONS = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


class Prom:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def query(self, q: str) -> float | None:
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        res = json.loads(_get(url))["data"]["result"]
        if not res:
            return None
        return float(res[0]["value"][1])

    def wait(self, q: str, ok: object, timeout: float = 20) -> float | None:
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.query(q)
            if ok(v):  # type: ignore[operator]
                return v
            time.sleep(0.25)
        raise AssertionError(f"{q} stayed {v}")

    def settled(self, qs: tuple[str, ...]) -> dict[str, float]:
        """The values after two more scrapes than now (nothing of ours still in flight)."""
        time.sleep(2.5)
        return {q: self.query(q) or 0.0 for q in qs}


@pytest.fixture
def exporter() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "export", "--listen",
                             "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 30
        while "serving http://" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                pytest.fail(f"exporter exited {proc.returncode}")
        addr = line.split("http://", 1)[1].split("/", 1)[0]
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield proc, addr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def prometheus(tmp_path: Path, exporter: tuple[subprocess.Popen[str], str]) -> Iterator[Prom]:
    port = _free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: pybpf
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs: [{{targets: ["{exporter[1]}"]}}]
""")
    proc = subprocess.Popen(["prometheus", f"--config.file={cfg}",
                             f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if b"Ready" in _get(f"http://127.0.0.1:{port}/-/ready", 1):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready"
            assert proc.poll() is None, "prometheus exited"
            time.sleep(0.2)
        yield Prom(port)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _prog_ids(pid: int) -> set[int]:
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split(":")[1]))
        except OSError:
            continue
    return ids


def _connect_many(n: int) -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(n)
        for _ in range(n):
            c = socket.create_connection(srv.getsockname(), timeout=5)
            a, _ = srv.accept()
            a.close()
            c.close()


def test_prometheus_scrapes_exporter(prometheus: Prom, exporter: tuple[subprocess.Popen[str],
                                                                        str],
                                     tmp_path: Path) -> None:
    proc, _ = exporter
    ids = _prog_ids(proc.pid)
    assert ids
    prometheus.wait('up{job="pybpf"}', lambda v: v == 1)
    q_ppid = 'pybpf_syscalls_total{syscall="getppid"}'
    q_act = 'pybpf_tcp_connections_opened_total{direction="active"}'
    q_pas = 'pybpf_tcp_connections_opened_total{direction="passive"}'
    q_blk = 'sum(pybpf_block_io_latency_seconds_count{operation="write"})'
    qs = (q_ppid, q_act, q_pas, q_blk)
    os.getppid()
    prometheus.wait(q_ppid, lambda v: v is not None)
    # what the rest of the machine does meanwhile, over a window like the test's own
    t0 = time.monotonic()
    quiet = prometheus.settled(qs)
    before = prometheus.settled(qs)
    background = {q: (before[q] - quiet[q]) / (time.monotonic() - t0) for q in qs}
    t1 = time.monotonic()

    for _ in range(GETPPID_CALLS):
        os.getppid()
    _connect_many(CONNECTIONS)
    with open(tmp_path / "blocks", "wb") as f:
        f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())

    prometheus.wait(q_ppid, lambda v: v is not None and v >= before[q_ppid] + GETPPID_CALLS)
    after = prometheus.settled(qs)
    window = time.monotonic() - t1

    def allowance(q: str, n: int, burst: float) -> float:
        return 3 * background[q] * window + burst * n + 5

    d_ppid = after[q_ppid] - before[q_ppid]
    assert GETPPID_CALLS <= d_ppid <= GETPPID_CALLS + allowance(q_ppid, GETPPID_CALLS, 0.01)
    for q in (q_act, q_pas):
        assert CONNECTIONS <= after[q] - before[q] <= CONNECTIONS + allowance(q, CONNECTIONS, 0.1), q
    assert after[q_blk] - before[q_blk] >= 1  # the fsync wrote at least one request

    # the rate Prometheus computes from the exporter's counter, and a quantile of a histogram
    assert prometheus.query(f"increase({q_ppid}[1m])") >= GETPPID_CALLS * 0.9  # type: ignore[operator]
    p50 = prometheus.query("histogram_quantile(0.5, sum by (le) "
                           "(rate(pybpf_runqueue_latency_seconds_bucket[1m])))")
    assert p50 is not None and 0 < p50 < 1

    # SIGTERM: exit 0, every program gone from the kernel
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    from pybpf.sys import objects

    deadline = time.monotonic() + 3
    while ids & set(objects.ids("prog")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ids & set(objects.ids("prog"))
