"""Long-run memory and fd measurement of tools under a steady event load (the numbers behind
tests/reliability/test_longrun.py).

    python3 bench/longrun.py [SECONDS]      (default 600; as root)

Prints one line per tool: RSS at the end of the warm-up, at the end, min/max after the
warm-up, growth, and the open fd count range."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.reliability.longrun import measure  # noqa: E402


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0
    warmup = min(60.0, seconds / 5)
    for s in measure(seconds, interval=min(5.0, seconds / 20)):
        print(f"{' '.join(s.argv)}: exit {s.rc}, {json.dumps(s.summary(warmup))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
