"""Statement forms of bpftrace's language (issue 18 items 3, 4): a ternary whose arms are
statements, and unroll's limits in bpftrace's own words."""

from __future__ import annotations

import pytest

from tests.lang.test_cli_trace import trace
from tests.util import requires_root

pytestmark = requires_root


def test_ternary_whose_arms_are_printf() -> None:
    res = trace("-e", 'BEGIN { $i = 0; unroll(4) { $i % 2 == 0 ? printf("even %d\\n", $i) : '
                      'printf("odd %d\\n", $i); $i++; } exit(); }')
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:4] == ["even 0", "odd 1", "even 2", "odd 3"], res.stdout


@pytest.mark.parametrize("n, text", [(101, "unroll maximum value is 100"),
                                     (0, "unroll minimum value is 1")])
def test_unroll_limits_in_bpftraces_words(n: int, text: str) -> None:
    res = trace("-e", f"BEGIN {{ unroll({n}) {{ @c = count(); }} exit(); }}")
    assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
    assert f"stdin:1:9: error: {text}" in res.stderr, res.stderr
