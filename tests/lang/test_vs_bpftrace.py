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
    maps, other = parse_output(_pybpf_output(prog, workload))
    assert maps or other, "no output"


_PYBPF_OUTPUT: dict[tuple[str, str | None], str] = {}


def _pybpf_output(prog: str, workload: str | None) -> str:
    """pybpf's output of a one-liner, run once for both tests (a wildcard over every
    syscall takes many seconds to attach)."""
    key = (prog, workload)
    if key not in _PYBPF_OUTPUT:
        _PYBPF_OUTPUT[key] = run_tool("pybpf", prog, workload)
    return _PYBPF_OUTPUT[key]


@requires_root
@pytest.mark.skipif(not HAVE_BPFTRACE, reason="bpftrace is not installed")
@pytest.mark.parametrize("prog, workload, exact", CORPUS, ids=[c[0][:60] for c in CORPUS])
def test_same_as_bpftrace(prog: str, workload: str | None, exact: bool | None) -> None:
    if exact is None:
        pytest.skip("bpftrace 0.17 does not end a BEGIN/END-only program by itself")
    if prog.startswith("t:syscalls:sys_enter_* "):
        # pybpf runs it (test_pybpf_runs); bpftrace takes ~55 s here to compile and attach
        # its 360 programs, a minute of CI for one comparison that the narrower wildcards
        # of the corpus (sys_enter_open*, ...) already make
        pytest.skip("bpftrace needs ~55 s for the 360 probes of sys_enter_* on this kernel")
    ours, our_lines = parse_output(_pybpf_output(prog, workload))
    theirs, their_lines = parse_output(run_tool("bpftrace", prog, workload))
    ours, theirs = drop_tracer(ours), drop_tracer(theirs)
    assert set(ours) == set(theirs)
    if exact:
        assert ours == theirs
        assert our_lines == their_lines
    else:
        for name in theirs:
            assert bool(ours[name]) == bool(theirs[name]) or not theirs[name], name
