"""Long run: tools left running under a steady event load keep flat memory (RSS after the
warm-up stays within 10% of its value at the end of the warm-up) and a constant number of
open file descriptors. PYBPF_LONGRUN_SECONDS sets the duration (default 300;
`bench/longrun.py 600` runs ten minutes)."""

from __future__ import annotations

import json
import os

from tests.reliability.common import no_traceback
from tests.reliability.longrun import measure
from tests.util import requires_root

pytestmark = requires_root

SECONDS = float(os.environ.get("PYBPF_LONGRUN_SECONDS", "300"))
WARMUP = min(60.0, SECONDS / 5)


def test_long_run_flat_memory_and_fds() -> None:
    from tests.conftest import LONG_RUN

    thread = LONG_RUN.get("thread")
    if thread is not None:  # started when the session began (tests/conftest.py): wait for it
        thread.join(SECONDS + 120)  # type: ignore[attr-defined]
        assert not thread.is_alive(), "the long run did not finish"  # type: ignore[attr-defined]
        assert "error" not in LONG_RUN, LONG_RUN.get("error")
        series = LONG_RUN["series"]
    else:
        series = measure(SECONDS, interval=min(5.0, SECONDS / 20))
    for s in series:
        summary = s.summary(WARMUP)
        print(f"\n{' '.join(s.argv)}: {json.dumps(summary)}")
        assert s.rc == 0 and no_traceback(s.stderr), (s.argv, s.rc, s.stderr[-2000:])
        assert s.samples[-1][0] >= SECONDS * 0.9, f"{s.argv} ended early: {s.stderr[-2000:]}"
        assert summary["samples"] >= 5, summary
        assert summary["rss_growth"] <= 0.10, (s.argv, summary)
        assert summary["fds_min"] == summary["fds_max"], (s.argv, summary)
    syscount = next(s for s in series if s.argv[0] == "syscount")
    assert syscount.out_bytes > 0
