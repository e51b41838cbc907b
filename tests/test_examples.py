"""The raw-level examples work: each one sees the events this test causes."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.usefixtures("no_leaks")]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_thread(fn, *args):
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", fn(*args)))
    thread.start()
    return thread, result


def test_sockex1_counts_udp_packets_and_bytes():
    ex = load_example("sockex1_protocols")
    stats, prog, sock, link = ex.open_counter("lo")
    try:
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(7):
            tx.sendto(b"x" * 100, rx.getsockname())
        for _ in range(7):
            rx.recv(200)
        tx.close()
        rx.close()
        deadline = time.monotonic() + 2
        while ex.counts(stats).get(17, (0, 0))[0] < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
        packets, nbytes = ex.counts(stats)[17]
        assert packets >= 7
        assert nbytes >= 7 * (14 + 20 + 8 + 100)
    finally:
        link.close()
        sock.close()
        prog.close()
        stats.close()


def test_syscalls_per_process_counts_a_known_child():
    ex = load_example("syscalls_per_process")
    thread, result = in_thread(ex.count_syscalls, 2.5)
    time.sleep(0.8)  # loaded and attached by now
    child = subprocess.Popen([sys.executable, "-c",
                              "import os\nfor _ in range(3000): os.getppid()"])
    assert child.wait() == 0
    thread.join()
    counts = result["value"]
    assert counts.get(child.pid, 0) >= 3000, "a child making 3000 getppid calls was missed"


def test_exec_events_stream_through_the_ring_buffer():
    ex = load_example("exec_events")
    events: list = []
    thread = threading.Thread(target=lambda: events.extend(ex.exec_events(2.5)))
    thread.start()
    time.sleep(0.8)
    child = subprocess.Popen(["/bin/true"])
    child.wait()
    thread.join()
    seen = {(e.pid, e.comm) for e in events}
    assert (child.pid, b"true") in seen
