"""Keyed log2 histograms as the tools read and print them: maps {(key, bucket): count} filled
by `hist.log2(m, key, value)` (pybpf.compiler.lib.hist), read into {key: {bucket: count}} and
printed per key as bcc prints them (or one JSON object per key)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.tools import runner

Buckets = Mapping[int, int]
Fields = Callable[[Any], dict[str, Any]]


def read_keyed(dist: Any, clear: bool = True) -> dict[Any, dict[int, int]]:
    """{key: {bucket: count}} of the map, which is cleared after (one interval each read)."""
    from pybpf.output.hist import split_keyed

    counts = dict(dist.items())
    if clear:
        dist.clear()
    return split_keyed(counts)


def print_keyed(per: Mapping[Any, Buckets], unit: str, heading: Callable[[Any], str] | None,
                timestamp: bool = False, after: Callable[[Any], None] | None = None) -> None:
    """One interval, as bcc prints it: a blank line, the time with -T, then for each key in
    order its heading ("\\ndisk = sda", when `heading` is given), its histogram and
    whatever `after(key)` prints (averages)."""
    from pybpf.output import hist

    runner.interval_start(timestamp)
    for key, buckets in sorted(per.items()):
        if heading is not None:
            print(f"\n{heading(key)}")
        for line in hist.log2_lines(buckets, unit):
            print(line)
        if after is not None:
            after(key)
    print(end="", flush=True)


def emit_keyed(per: Mapping[Any, Buckets], unit: str, before: Fields | None = None,
               after: Fields | None = None) -> None:
    """One JSON object per key in order: "time", `before(key)`'s fields, the histogram's,
    then `after(key)`'s."""
    from pybpf.output import hist, jsonl

    for key, buckets in sorted(per.items()):
        obj: dict[str, Any] = {"time": hms()}
        if before is not None:
            obj.update(before(key))
        obj.update(hist.log2_json(buckets, unit))
        if after is not None:
            obj.update(after(key))
        jsonl.emit(obj)
