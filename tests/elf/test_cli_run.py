"""`pybpf run`: records printed decoded by the object's BTF, maps at exit, --set options,
one-line errors for bad input."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

import pytest

from pybpf.cli import build_parser
from pybpf.cli_run import hexdump, parse_value, run
from tests.util import requires_root


def _run_with(argv: list[str], action) -> str:
    args = build_parser().parse_args(["run", *argv])
    out = io.StringIO()

    from pybpf.link import link_ids

    before = set(link_ids())

    def later() -> None:  # once the program is attached (slow under emulation)
        deadline = time.monotonic() + 20
        while not set(link_ids()) - before and time.monotonic() < deadline:
            time.sleep(0.02)
        action()

    t = threading.Thread(target=later)
    t.start()
    try:
        assert run(args, out) == 0
    finally:
        t.join()
    return out.getvalue()


@requires_root
def test_run_prints_decoded_ring_buffer_records_and_maps(objects, no_leaks):
    def getppid_three_times() -> None:
        for _ in range(3):
            os.getppid()

    text = _run_with([objects["ringbuf"], "--set", f"target_pid={os.getpid()}", "-d", "1.5"],
                     getppid_three_times)
    ring = [line for line in text.splitlines() if line.startswith("events: ")]
    assert ring == [f"events: pid={os.getpid()} seq={i} comm={_comm()}" for i in range(3)]
    perf = [line for line in text.splitlines() if line.startswith("perf_events: ")]
    assert len(perf) == 3
    assert ".bss:\n  seq = 3\n  unused_event = 0" in text


def _comm() -> str:
    with open(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/comm") as f:
        return f.read().strip()


@requires_root
def test_run_prints_hash_map_at_exit(objects, no_leaks):
    def calls() -> None:
        for _ in range(4):
            os.getpid()

    text = _run_with([objects["counter"], "-d", "1.5"], calls)
    assert "map counts (hash):" in text
    assert f"  {os.getpid()}: " in text
    assert "total_calls = " in text


@requires_root
def test_run_struct_member_set_and_hex_records(objects, no_leaks):
    text = _run_with([objects["globals"], "--set", f"cfg.target_pid={os.getpid()}",
                      "--set", "cfg.tag=xyz", "-d", "1.5"], lambda: os.getpgid(0))
    assert "seen_tag = xyz" in text
    assert f"seen_pid = {os.getpid()}" in text
    assert "map legacy (array):" in text


def test_bad_input_is_one_line():
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.run([sys.executable, "-m", "pybpf.cli", "run", "/etc/hostname"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "pybpf: /etc/hostname: not an ELF file (a clang -target " \
                                  "bpf object was expected)"


@pytest.mark.parametrize("argv,message", [
    (["--set", "nope=1"], "--set nope=1: "),
    (["--set", "noequals"], "--set needs NAME=VALUE"),
    (["--event-type", "nothing_like_this"], "has no struct nothing_like_this"),
])
def test_bad_options(objects, argv, message):
    proc = subprocess.run([sys.executable, "-m", "pybpf.cli", "run", objects["counter"], *argv],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("pybpf: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_helpers():
    assert parse_value("0x10") == 16
    assert parse_value("-3") == -3
    assert parse_value("true") is True
    assert parse_value("abc") == "abc"
    assert hexdump(b"AB\x00") == f"  0000  {'41 42 00':<47}  AB."
