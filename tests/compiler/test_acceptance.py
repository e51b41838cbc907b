"""Every corpus function compiles and the verifier accepts it; its instruction count must
not grow more than 20% over the count recorded in insn_counts.json.

    PYBPF_UPDATE_COUNTS=1 pytest tests/compiler/test_acceptance.py   # record the counts
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.util import requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the corpus creates its maps at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)

from tests.compiler.corpus import CASES, LOAD_BUGS, Case  # noqa: E402

COUNTS = Path(__file__).with_name("insn_counts.json")
UPDATE = os.environ.get("PYBPF_UPDATE_COUNTS") == "1"
GROWTH = 1.20
RECORDED: dict[str, int] = json.loads(COUNTS.read_text()) if COUNTS.exists() else {}
MEASURED: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _write_counts():
    yield
    if UPDATE and MEASURED:
        names = {c.name for c in CASES}
        counts = {k: v for k, v in RECORDED.items() if k in names}
        counts.update(MEASURED)
        COUNTS.write_text(json.dumps(dict(sorted(counts.items())), indent=1) + "\n")


def slots(case: Case) -> int:
    """Instruction slots (a 64-bit immediate load takes two)."""
    return sum(insn.size for insn in case.fn.insns)


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=LOAD_BUGS[case.name])] \
            if case.name in LOAD_BUGS else []
        yield pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_loads(case: Case, program_closed) -> None:
    program_closed(case.fn)  # compiles and loads: the verifier accepts it
    n = slots(case)
    MEASURED[case.name] = n
    if UPDATE:
        return
    assert case.name in RECORDED, \
        f"{case.name}: no recorded count; run with PYBPF_UPDATE_COUNTS=1"
    limit = RECORDED[case.name] * GROWTH
    assert n <= limit, (f"{case.name}: {n} instructions, recorded {RECORDED[case.name]} "
                        f"(+{100 * (n / RECORDED[case.name] - 1):.0f}% > 20%)")
