"""`pybpf export` and signals, on loopback: SIGHUP is ignored with a message (the exporter goes
on serving: restart to reload), SIGTERM and SIGINT still end it with exit 0, even while
scrapers hold half-sent requests open. Time bounds are generous (30 s and more)."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.util import requires_root

pytestmark = requires_root


class Running:
    def __init__(self, proc: subprocess.Popen[str], addr: str) -> None:
        self.proc, self.addr = proc, addr
        self.lines: queue.Queue[str] = queue.Queue()

    def scrape(self) -> bytes:
        with urllib.request.urlopen(f"http://{self.addr}/metrics", timeout=30) as r:
            return r.read()

    def wait_line(self, words: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {words!r} on stderr") from None
            if words in line:
                return line


@pytest.fixture
def running() -> Iterator[Running]:
    proc = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "export", "--listen",
                             "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 60
        while "serving http://" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                pytest.fail(f"exporter exited {proc.returncode}")
        r = Running(proc, line.split("http://", 1)[1].split("/", 1)[0])
        stderr = proc.stderr

        def pump() -> None:
            for ln in stderr:
                r.lines.put(ln)

        threading.Thread(target=pump, daemon=True).start()
        yield r
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sighup_is_ignored_and_said(running: Running) -> None:
    assert b"pybpf_syscalls_total" in running.scrape()
    running.proc.send_signal(signal.SIGHUP)
    line = running.wait_line("SIGHUP")
    assert "SIGHUP ignored" in line and "Traceback" not in line
    assert running.proc.poll() is None
    running.proc.send_signal(signal.SIGHUP)  # and again: still a message, still serving
    running.wait_line("SIGHUP ignored")
    assert b"pybpf_syscalls_total" in running.scrape()
    running.proc.send_signal(signal.SIGTERM)
    assert running.proc.wait(30) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_end_cleanly_with_stalled_scrapers(running: Running, sig: int) -> None:
    host, port = running.addr.rsplit(":", 1)
    idle = []
    try:
        for _ in range(50):
            s = socket.create_connection((host, int(port)), timeout=30)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")  # and never the rest
            idle.append(s)
        running.proc.send_signal(sig)
        assert running.proc.wait(30) == 0
    finally:
        for s in idle:
            s.close()
    rest = []
    while not running.lines.empty():
        rest.append(running.lines.get())
    assert not any("Traceback" in ln for ln in rest), rest
