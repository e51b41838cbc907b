"""A fork storm against a pid label (issue 26 item 5): 600 short processes, each counted by
the kernel under its pid, meet a series limit of 100. The exporter keeps 100 series plus
__overflow__, whose value holds the rest exactly, and pybpf_export_series_overflow says how
many label sets it folded in; memory stays bounded by the limit (decode cache included)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.util import requires_root

MODULE = '''
import os
from pybpf import bpf, maps, u32, u64

PARENT = int(os.environ["PYBPF_EXPORT_STORM_PARENT"])
children = maps.Hash(key=u32, value=u64, max_entries=4096)


@bpf.tracepoint("sched:sched_process_fork")
def test_export_forks(ctx):
    if ctx.parent_pid != PARENT:
        return 0
    children[u32(ctx.child_pid)] += 1
    return 0
'''

CONFIG = '''
defaults: false
modules:
  - path: storm.py
    metrics:
      - {name: test_forks_total, type: counter, map: children, labels: [pid], limit: 100}
'''

FORKS = 600


@requires_root
def test_fork_storm_meets_the_series_limit(tmp_path: Path, no_leaks: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from pybpf.export import config
    from pybpf.export.exporter import Exporter

    (tmp_path / "storm.py").write_text(MODULE)
    (tmp_path / "c.yaml").write_text(CONFIG)
    monkeypatch.setenv("PYBPF_EXPORT_STORM_PARENT", str(os.getpid()))
    ex = Exporter(config.load([str(tmp_path / "c.yaml")]))
    try:
        ex.start()
        for _ in range(FORKS):
            child = os.fork()
            if child == 0:
                os._exit(0)
            os.waitpid(child, 0)
        text = generate_latest(ex.registry).decode()
        assert ex.collector is not None
        guard = ex.collector.guards["test_forks_total"]
    finally:
        ex.close()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {s.labels.get("pid"): s.value for s in fams["test_forks"].samples
               if s.name == "test_forks_total"}
    assert len(samples) == 101, len(samples)  # 100 pids and __overflow__
    assert sum(samples.values()) == FORKS
    assert samples["__overflow__"] == FORKS - 100
    over = {s.labels["metric"]: s.value for s in fams["pybpf_export_series_overflow"].samples}
    assert over["test_forks_total"] == FORKS - 100
    # bounded: 100 admitted label sets, a decode cache of at most 2 * limit keys
    assert len(guard.admitted) == 100
    assert len(guard.cache.data) <= 200
