"""A custom module through the configuration: counters and a histogram filled by known writes,
read back through the collector as Prometheus would see them (exact buckets, sum, count; the
series limit and its __overflow__ series; decode errors; per-program metrics)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.util import requires_root

MODULE = '''
import os
from pybpf import bpf, maps, pid, u64
from pybpf.export import Counter, Histogram, observe0

TARGET = int(os.environ["PYBPF_EXPORT_TEST_PID"])
FD = int(os.environ["PYBPF_EXPORT_TEST_FD"])
sizes = maps.Hash(key=u64, value=u64, max_entries=64)
dist = maps.Hash(key=u64, value=u64, max_entries=128)


@bpf.tracepoint("syscalls:sys_enter_write")
def test_export_writes(ctx):
    if pid() != TARGET or ctx.fd != FD:
        return 0
    sizes[u64(ctx.count)] += 1
    observe0(dist, u64(ctx.count))
    return 0


METRICS = [
    Counter("test_writes_total", "writes by size", sizes, labels=[("size", "int")], limit=3),
    Histogram("test_write_bytes", "write sizes", dist, max_bucket=12),
]
'''

CONFIG = '''
defaults: false
modules:
  - path: writes.py
    metrics:
      - name: test_writes_kind_total
        type: counter
        map: sizes
        labels:
          - name: kind
            decoder: {static: {1: one, 1024: kilo}, default: other}
      - name: test_writes_errno_total
        type: counter
        map: sizes
        labels: [{name: e, decoder: errno}]
'''

SIZES = [0, 1, 2, 3, 4, 5, 8, 9, 1024, 1025, 5000]


def _families(registry: object) -> dict[str, object]:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    text = generate_latest(registry).decode()  # type: ignore[arg-type]
    return {f.name: f for f in text_string_to_metric_families(text)}


def _samples(fam: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for s in fam.samples}  # type: ignore[attr-defined]


@requires_root
def test_custom_module(tmp_path: Path, no_leaks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from pybpf.export import config
    from pybpf.export.exporter import Exporter

    (tmp_path / "writes.py").write_text(MODULE)
    (tmp_path / "c.yaml").write_text(CONFIG)
    fd = os.open("/dev/null", os.O_WRONLY)
    monkeypatch.setenv("PYBPF_EXPORT_TEST_PID", str(os.getpid()))
    monkeypatch.setenv("PYBPF_EXPORT_TEST_FD", str(fd))
    ex = Exporter(config.load([str(tmp_path / "c.yaml")]))
    try:
        ex.start()
        for n in SIZES:
            os.write(fd, b"x" * n)
        os.write(fd, b"x")  # size 1 twice
        fams = _families(ex.registry)
    finally:
        ex.close()
        os.close(fd)
    values = SIZES + [1]

    hist = _samples(fams["test_write_bytes"])
    for k in range(13):
        le = float(2**k)
        assert hist[("test_write_bytes_bucket", (("le", str(le)),))] == \
            sum(1 for v in values if v <= le), le
    assert hist[("test_write_bytes_bucket", (("le", "+Inf"),))] == len(values)
    assert hist[("test_write_bytes_count", ())] == len(values)
    assert hist[("test_write_bytes_sum", ())] == sum(values)

    # limit 3: the first three sizes read from the map stay, the rest add up in __overflow__
    writes = _samples(fams["test_writes"])
    assert len(writes) == 4
    assert sum(writes.values()) == len(values)
    assert writes[("test_writes_total", (("size", "__overflow__"),))] == len(values) - sum(
        v for (_, labels), v in writes.items() if labels[0][1] != "__overflow__")
    health = _samples(fams["pybpf_export_series_overflow"])
    assert health[("pybpf_export_series_overflow", (("metric", "test_writes_total"),))] == \
        len(set(values)) - 3

    kinds = _samples(fams["test_writes_kind"])
    assert kinds[("test_writes_kind_total", (("kind", "one"),))] == 2
    assert kinds[("test_writes_kind_total", (("kind", "kilo"),))] == 1
    assert kinds[("test_writes_kind_total", (("kind", "other"),))] == len(values) - 3

    # sizes 1024, 1025 and 5000 are no errno: exported as the number, counted as errors
    errs = _samples(fams["pybpf_export_decode_errors"])
    assert errs[("pybpf_export_decode_errors_total",
                 (("metric", "test_writes_errno_total"),))] >= 2

    runs = _samples(fams["pybpf_program_runs"])
    key = ("pybpf_program_runs_total", (("program", "test_export_wri"), ("source", "writes.py")))
    if key not in runs:  # program names are cut to 15 characters in the kernel, not here
        key = ("pybpf_program_runs_total",
               (("program", "test_export_writes"), ("source", "writes.py")))
    assert runs[key] >= len(values)
    attached = _samples(fams["pybpf_program_attached"])
    assert set(attached.values()) == {1.0}


@requires_root
def test_openmetrics_output(tmp_path: Path, no_leaks: None,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client.openmetrics.exposition import generate_latest

    from pybpf.export import config
    from pybpf.export.exporter import Exporter

    (tmp_path / "writes.py").write_text(MODULE)
    (tmp_path / "c.yaml").write_text("defaults: false\nmodules: [{path: writes.py}]\n")
    monkeypatch.setenv("PYBPF_EXPORT_TEST_PID", str(os.getpid()))
    monkeypatch.setenv("PYBPF_EXPORT_TEST_FD", "-1")
    with Exporter(config.load([str(tmp_path / "c.yaml")])) as ex:
        ex.start()
        text = generate_latest(ex.registry).decode()
    assert text.endswith("# EOF\n")
    assert 'test_write_bytes_bucket{le="4096.0"} 0' in text
    assert "# TYPE test_writes counter" in text
