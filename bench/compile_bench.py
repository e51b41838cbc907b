"""Benchmark: compile time of every function in the compiler test corpus.

    sudo python3 bench/compile_bench.py [--runs N] [--json]

Each measurement is a fresh compile (Python source -> AST -> IR -> BPF instructions) of the
same Python function: a new `FunctionProgram` is built around `fn.pyfunc` each time, so no
compiled result is reused (the parsed source text is served by linecache, as it would be in
a program that compiles several functions). Loading into the kernel is not included. Prints
the median per function, then the median and 90th percentile over the corpus; the target is
<= 20 ms for a typical function. Needs root: the corpus creates its maps at import.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TARGET_MS = 20.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    from pybpf.compiler.api import FunctionProgram
    from pybpf.compiler.errors import CompileError
    from pybpf.compiler.target import kernel_target
    from tests.compiler.corpus import CASES

    kernel_target()  # the one-time kernel probes are not compile time
    rows: list[tuple[str, float | None, int, str]] = []
    for case in CASES:
        times, n, note = [], 0, ""
        for _ in range(args.runs):
            prog = FunctionProgram(case.fn.pyfunc)
            t0 = time.perf_counter()
            try:
                n = len(prog.insns)
            except CompileError as e:
                note = "error: " + e.message.splitlines()[0][:50]
                break
            times.append((time.perf_counter() - t0) * 1e3)
        rows.append((case.name, statistics.median(times) if times else None, n, note))

    ok = [ms for _, ms, _, _ in rows if ms is not None]
    if args.json:
        print(json.dumps({"per_function_ms": {n: ms for n, ms, _, _ in rows},
                          "median_ms": statistics.median(ok),
                          "p90_ms": statistics.quantiles(ok, n=10)[-1], "max_ms": max(ok)},
                         indent=1))
        return
    print(f"{'function':28} {'median ms':>10} {'insns':>6}")
    for name, ms, n, note in rows:
        shown = f"{ms:10.2f}" if ms is not None else f"{'-':>10}"
        print(f"{name:28} {shown} {n:6} {note}")
    med = statistics.median(ok)
    print(f"\n{len(ok)} functions compiled ({len(rows) - len(ok)} rejected), {args.runs} runs "
          f"each: median {med:.2f} ms, p90 {statistics.quantiles(ok, n=10)[-1]:.2f} ms, "
          f"max {max(ok):.2f} ms (target <= {TARGET_MS:.0f} ms typical: "
          f"{'met' if med <= TARGET_MS else 'NOT met'})")


if __name__ == "__main__":
    main()
