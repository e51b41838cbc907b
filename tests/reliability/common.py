"""What the reliability tests share: running a pybpf command as a subprocess, the kernel
objects a process holds, and the kernel's id lists."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("prog", "map", "link")
TRACEFS_EVENTS = ("/sys/kernel/tracing/uprobe_events", "/sys/kernel/tracing/kprobe_events",
                  "/sys/kernel/debug/tracing/uprobe_events")


def kernel_ids() -> dict[str, set[int]]:
    from pybpf.sys import objects

    return {kind: set(objects.ids(kind)) for kind in KINDS}


def held_objects(pid: int) -> dict[str, set[int]]:
    """The prog/map/link ids and the number of perf events process `pid` holds by fd."""
    held: dict[str, set[int]] = {k: set() for k in (*KINDS, "perf_event")}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return held
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if not target.startswith("anon_inode:"):
                continue
            if "perf_event" in target:
                held["perf_event"].add(int(fd))
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("prog_id", "map_id", "link_id"):
                        held[key[:-3]].add(int(value))
        except (OSError, ValueError):
            continue
    return held


def tracefs_entries(pid: int | None = None) -> list[str]:
    """uprobe/kprobe events in pybpf's group (of process `pid` when given)."""
    out = []
    for path in TRACEFS_EVENTS:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            if "pybpf/" in line and (pid is None or f"_{pid}_" in line):
                out.append(line)
    return out


def session_processes(sid: int) -> list[int]:
    """Live processes in session `sid` (a tool started with start_new_session=True)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(name))
    return out


def default_sigint() -> None:
    """For children: SIGINT as Ctrl-C (a test run in the background has it ignored, and
    children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")


class Proc:
    """A pybpf command in its own session, with both output streams collected."""

    def __init__(self, argv: list[str], prelude: str = "") -> None:
        code = prelude + "import sys\nfrom pybpf.cli import main\nsys.exit(main(sys.argv[1:]))"
        self.argv = argv
        self.proc = subprocess.Popen([sys.executable, "-c", code, *argv],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=child_env(), cwd=ROOT,
                                     start_new_session=True, preexec_fn=default_sigint)
        self.pid = self.proc.pid
        self.out = b""
        self.err = b""
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ, "out")
        self.sel.register(self.proc.stderr, selectors.EVENT_READ, "err")

    def pump(self, timeout: float) -> bool:
        """Read what arrives within `timeout` seconds; False once both streams ended."""
        if not self.sel.get_map():
            time.sleep(timeout)
            return False
        for key, _ in self.sel.select(timeout):
            data = os.read(key.fileobj.fileno(), 1 << 16)
            if not data:
                self.sel.unregister(key.fileobj)
                continue
            if key.data == "out":
                self.out += data
            else:
                self.err += data
        return bool(self.sel.get_map())

    def wait_output(self, timeout: float = 20.0, stream: str = "any",
                    text: str | None = None) -> None:
        """Until the first output (or `text`) appears; AssertionError if the command ends or
        the time runs out first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = {"out": self.out, "err": self.err, "any": self.out + self.err}[stream]
            if (text is None and got) or (text is not None and text.encode() in got):
                return
            if not self.pump(0.1) and self.proc.poll() is not None:
                break
        self.kill()
        raise AssertionError(f"{self.argv}: no output {text!r} within {timeout}s; rc="
                             f"{self.proc.returncode}\nstdout: {self.stdout[-2000:]}\n"
                             f"stderr: {self.stderr[-3000:]}")

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def finish(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pump(0.1) and self.proc.poll() is not None:
                break
        if self.proc.poll() is None:
            self.kill()
            raise AssertionError(f"{self.argv}: still running {timeout}s after being told to "
                                 f"end\nstderr: {self.stderr[-3000:]}")
        self.sel.close()
        return self.proc.returncode

    def kill(self) -> None:
        for pid in session_processes(self.pid) or [self.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    @property
    def stdout(self) -> str:
        return self.out.decode(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err.decode(errors="replace")


def pump_all(procs: list[Proc], seconds: float) -> None:
    """Keep reading every process's output for `seconds` (a tool blocked on a full pipe
    would otherwise stall, and lose what it had not written when it is ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in procs:
            p.pump(0.01)


def wait_gone(ids: dict[str, set[int]], timeout: float = 5.0) -> dict[str, list[int]]:
    """Wait until none of `ids` is in the kernel any more; what remains after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        now = kernel_ids()
        left = {k: sorted(ids[k] & now[k]) for k in ids if k in now and ids[k] & now[k]}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def no_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" not in text
