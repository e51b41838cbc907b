"""The one-liner corpus through pybpf trace and through bpftrace on the same workload; the
outputs are compared structurally (same maps, same keys and values for deterministic
workloads; same maps, both non-empty, for system-wide ones)."""

from __future__ import annotations

import shutil

import pytest

from tests.lang.corpus import CORPUS, drop_tracer, parse_output, run_tool
from tests.util import requires_root

HAVE_BPFTRACE = shutil.which("bpftrace") is not None


@requires_root
@pytest.mark.parametrize("prog, workload, exact", CORPUS, ids=[c[0][:60] for c in CORPUS])
def test_pybpf_runs(prog: str, workload: str | None, exact: bool | None) -> None:
    maps, other = parse_output(run_tool("pybpf", prog, workload))
    assert maps or other, "no output"


@requires_root
@pytest.mark.skipif(not HAVE_BPFTRACE, reason="bpftrace is not installed")
@pytest.mark.parametrize("prog, workload, exact", CORPUS, ids=[c[0][:60] for c in CORPUS])
def test_same_as_bpftrace(prog: str, workload: str | None, exact: bool | None) -> None:
    if exact is None:
        pytest.skip("bpftrace 0.17 does not end a BEGIN/END-only program by itself")
    ours, our_lines = parse_output(run_tool("pybpf", prog, workload))
    theirs, their_lines = parse_output(run_tool("bpftrace", prog, workload))
    ours, theirs = drop_tracer(ours), drop_tracer(theirs)
    assert set(ours) == set(theirs)
    if exact:
        assert ours == theirs
        assert our_lines == their_lines
    else:
        for name in theirs:
            assert bool(ours[name]) == bool(theirs[name]) or not theirs[name], name
