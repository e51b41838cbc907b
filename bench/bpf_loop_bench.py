"""What a loop costs when it runs through bpf_loop instead of being followed (unrolled) by
the verifier: the same function compiled both ways, run in the kernel with
BPF_PROG_TEST_RUN in the same process, alternating, medians of the kernel's own mean run time.

    sudo python3 bench/bpf_loop_bench.py [--rounds 15] [--repeat 200]

Prints ns per iteration of each and their ratio (bpf_loop / unrolled), and the load time of
each (the verifier's work: it follows every iteration of the unrolled one).
"""

from __future__ import annotations

import argparse
import statistics
import struct
import time

from pybpf import bpf, maps, u32, u64
from pybpf.compiler import hooks

counts = maps.Array(value=u64, max_entries=8, name="loopbench")
ITERATIONS = 4000


@bpf.function
def summed(a: u64) -> u64:
    total = 0
    for i in range(ITERATIONS):
        if (i ^ a) & 3 == 0:
            total += i
        counts[u32(i & 7)] += 1
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    unrolled = summed.compiled
    assert not unrolled.callback_loops, "the reference loop should fit the verifier's budget"
    assert unrolled.regenerate is not None, "this kernel has no bpf_loop"
    code = summed.pyfunc.__code__
    key = (code.co_filename, code.co_firstlineno + 3, 5)  # the `for` (after the decorator)
    looped = unrolled.regenerate(frozenset({key}))
    assert looped.callback_loops, "the loop did not go to bpf_loop"
    progs, load_ms = [], []
    for code in (unrolled, looped):
        t = time.perf_counter()
        progs.append(hooks.load("function", code.insns, "loopbench"))
        load_ms.append((time.perf_counter() - t) * 1e3)
    ctx = struct.pack("<2Q", 7, 0)  # the argument, then the result
    assert progs[0].test_run(ctx=ctx).ctx == progs[1].test_run(ctx=ctx).ctx
    times: list[list[float]] = [[], []]
    for _ in range(args.rounds):
        for n, p in enumerate(progs):
            start = time.perf_counter_ns()
            for _ in range(args.repeat):
                p.test_run(ctx=ctx)
            times[n].append((time.perf_counter_ns() - start) / args.repeat / ITERATIONS)
    med = [statistics.median(t) for t in times]
    print(f"{ITERATIONS} iterations, {args.rounds} rounds of {args.repeat} runs")
    print(f"{'':12} {'ns/iteration':>12} {'load ms':>8} {'insns':>6}")
    for name, m, ms, code in zip(("unrolled", "bpf_loop"), med, load_ms,
                                 (unrolled, looped), strict=True):
        print(f"{name:12} {m:12.2f} {ms:8.1f} {sum(i.size for i in code.insns):6}")
    print(f"ratio bpf_loop / unrolled: {med[1] / med[0]:.2f} ns, "
          f"{load_ms[1] / load_ms[0]:.3f} load time")
    for p in progs:
        p.close()
    counts.close()


if __name__ == "__main__":
    main()
