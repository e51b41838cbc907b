"""Long-run measurement: tools left running under a steady event load, their RSS
(/proc/PID/status VmRSS) and open fd count sampled every few seconds. Used by
test_longrun.py and by bench/longrun.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from tests.reliability.common import ROOT, child_env, default_sigint

# a steady load: about 2,000 getppid() and 1,000 open()/close() per second
LOAD = """
import os, time
while True:
    t = time.monotonic()
    for _ in range(200):
        os.getppid()
    for _ in range(100):
        os.close(os.open('/etc/hostname', os.O_RDONLY))
    time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))
"""

TOOLS = [["syscount", "-i", "5"],
         ["opensnoop", "-n", "no-such-command-name"]]  # every event decoded, none printed


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Series:
    argv: list[str]
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, rss KiB, fds)
    rc: int | None = None
    stderr: str = ""
    out_bytes: int = 0

    def after(self, warmup: float) -> list[tuple[float, int, int]]:
        return [s for s in self.samples if s[0] >= warmup]

    def summary(self, warmup: float) -> dict[str, float]:
        post = self.after(warmup)
        rss = [s[1] for s in post]
        fds = [s[2] for s in post]
        return {"samples": len(post), "rss_start_kib": rss[0], "rss_end_kib": rss[-1],
                "rss_min_kib": min(rss), "rss_max_kib": max(rss),
                "rss_growth": max(rss) / rss[0] - 1, "fds_min": min(fds), "fds_max": max(fds),
                "output_bytes": self.out_bytes}


def measure(seconds: float, interval: float = 5.0, tools: list[list[str]] | None = None
            ) -> list[Series]:
    tools = tools or TOOLS
    tmp = tempfile.mkdtemp(prefix="pybpf-longrun-")
    load = subprocess.Popen([sys.executable, "-c", LOAD])
    procs, series, files = [], [], []
    try:
        for i, argv in enumerate(tools):
            out = open(os.path.join(tmp, f"{i}.out"), "wb")  # noqa: SIM115 - closed below
            err = open(os.path.join(tmp, f"{i}.err"), "wb")  # noqa: SIM115
            files += [out, err]
            procs.append(subprocess.Popen([sys.executable, "-m", "pybpf.cli", *argv],
                                          stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                          env=child_env(), cwd=ROOT,
                                          preexec_fn=default_sigint))
            series.append(Series(argv))
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            t = time.monotonic() - start
            for p, s in zip(procs, series, strict=True):
                if p.poll() is None:
                    s.samples.append((t, rss_kib(p.pid), fd_count(p.pid)))
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(interval)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p, s in zip(procs, series, strict=True):
            try:
                s.rc = p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                s.rc = p.wait()
        load.kill()
        load.wait()
        for f in files:
            f.close()
        for i, s in enumerate(series):
            with open(os.path.join(tmp, f"{i}.err"), errors="replace") as f:
                s.stderr = f.read()
            s.out_bytes = os.path.getsize(os.path.join(tmp, f"{i}.out"))
    return series
