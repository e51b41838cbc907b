"""pybpf export: CPU per scrape with 10k series, and the exporter's own CPU while idle and
under a syscall load (scraped every second, as Prometheus would).

    sudo python3 bench/export_bench.py [--series 10000] [--seconds 10]

Reference in the same run: a plain prometheus_client registry holding the same 10k counter
series in Python (what any Python exporter pays to serialise them), so the ratio is the cost
of reading and decoding the kernel's map on top of that."""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def scrape_cost(series: int, scrapes: int = 20) -> tuple[float, float]:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client import Counter as PCounter

    from pybpf import maps, u32, u64
    from pybpf.export.collector import Collector, Source
    from pybpf.export.metrics import Counter
    from pybpf.session import Session

    s = Session()
    m = s.map(maps.Hash(key=(u32, u32), value=u64, max_entries=series, name="bench"))
    for i in range(series):
        m[i // 100, i % 100] = i
    c = Collector([Source("bench", s, [Counter("bench_total", "bench", m,
                                               labels=[("pid", "int"), ("nr", "syscall")])])],
                  default_limit=series)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(c)  # type: ignore[arg-type]
    generate_latest(reg)  # warm the decode cache, as after the first scrape
    t = _cpu()
    for _ in range(scrapes):
        text = generate_latest(reg)
    ours = (_cpu() - t) / scrapes
    assert text.count(b"bench_total{") == series
    s.close()

    ref = CollectorRegistry()
    pc = PCounter("ref", "ref", ["pid", "nr"], registry=ref)
    for i in range(series):
        pc.labels(str(i // 100), str(i % 100)).inc(i)
    t = _cpu()
    for _ in range(scrapes):
        generate_latest(ref)
    return ours, (_cpu() - t) / scrapes


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exporter_cpu(seconds: float) -> tuple[float, float, float]:
    """(idle %, under load %, load syscalls/s) of one CPU, scraped every second."""
    proc = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "export", "--listen",
                             "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        addr = line.split("http://", 1)[1].split("/", 1)[0]

        def phase(load: bool) -> tuple[float, float]:
            child = None
            if load:
                child = subprocess.Popen([sys.executable, "-c",
                                          "import os,time\nn=0\nt=time.time()\n"
                                          f"while time.time()-t<{seconds}:\n"
                                          "    [os.getppid() for _ in range(1000)]; n+=1000\n"
                                          "print(n)"], stdout=subprocess.PIPE, text=True)
            c0, t0 = _proc_cpu(proc.pid), time.monotonic()
            while time.monotonic() - t0 < seconds:
                urllib.request.urlopen(f"http://{addr}/metrics").read()
                time.sleep(1)
            pct = 100 * (_proc_cpu(proc.pid) - c0) / (time.monotonic() - t0)
            rate = 0.0
            if child is not None:
                out, _ = child.communicate()
                rate = int(out) / seconds
            return pct, rate

        idle, _ = phase(False)
        busy, rate = phase(True)
        return idle, busy, rate
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    ours, ref = scrape_cost(args.series)
    print(f"scrape of {args.series} counter series: {ours * 1e3:.1f} ms CPU "
          f"(prometheus_client alone: {ref * 1e3:.1f} ms; ratio {ours / ref:.2f})")
    idle, busy, rate = exporter_cpu(args.seconds)
    print(f"exporter CPU, default metrics, scraped every 1 s: idle {idle:.2f}% of a CPU, "
          f"under {rate / 1e3:.0f}k getppid/s {busy:.2f}%")


if __name__ == "__main__":
    main()
