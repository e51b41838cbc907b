"""Differential tests: every corpus function gives the same result in the kernel
(`f.run`, BPF_PROG_TEST_RUN) as in the Python reference (`f.py`), and leaves the same map
contents. Hypothesis picks the inputs within each parameter's type, plus edge values."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.util import requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the corpus creates its maps at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)

from tests.compiler.corpus import BUGS, CASES, EXAMPLES, Case, param_types, snapshot  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("PYBPF_DIFF_EXAMPLES", "40"))


def bounds(t) -> tuple[int, int]:
    if t.signed:
        return -(1 << (t.bits - 1)), (1 << (t.bits - 1)) - 1
    return 0, (1 << t.bits) - 1


def edge_values(t) -> list[int]:
    lo, hi = bounds(t)
    vals = {0, 1, 2, -1, -2, lo, hi, lo + 1, hi - 1, 7, 10, 100, 255, 256, 1000}
    for k in range(t.bits):
        vals |= {1 << k, (1 << k) - 1, -(1 << k)}
    # -1 for an unsigned parameter means its maximum: both sides wrap it the same way
    return sorted(v for v in vals if lo <= v <= hi or (v == -1 and not t.signed))


def ints(t) -> st.SearchStrategy[int]:
    lo, hi = bounds(t)
    return st.one_of(st.sampled_from(edge_values(t)), st.integers(lo, hi))


def check(case: Case, args: tuple[int, ...]) -> None:
    fn = case.fn
    for m in case.maps:
        m.clear()
    got = fn.run(*args)
    got_maps = snapshot(case.maps)
    for m in case.maps:
        m.clear()
    want = fn.py(*args)
    want_maps = snapshot(case.maps)
    for m in case.maps:
        m.clear()
    assert (got, got_maps) == (want, want_maps), \
        f"{case.name}{args}: kernel {got} {got_maps}, Python {want} {want_maps}"


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=BUGS[case.name])] \
            if case.name in BUGS else []
        yield pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_differential(case: Case, program_closed) -> None:
    program_closed(case.fn)
    types = param_types(case.fn)
    strategy = st.tuples(*[ints(t) for t in types])

    def prop(args: tuple[int, ...]) -> None:
        check(case, args)

    prop = given(args=strategy)(prop)
    fixed = [tuple(0 for _ in types), tuple(1 for _ in types), tuple(-1 for _ in types),
             tuple(bounds(t)[0] for t in types), tuple(bounds(t)[1] for t in types),
             *EXAMPLES.get(case.name, [])]
    for args in reversed(fixed):
        prop = example(args=args)(prop)
    prop = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                    database=None, suppress_health_check=list(HealthCheck))(prop)
    prop()


def test_corpus_size() -> None:
    assert len(CASES) >= 70
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    assert set(BUGS) <= set(names)
    assert set(EXAMPLES) <= set(names)
