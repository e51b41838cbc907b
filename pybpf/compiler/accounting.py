"""What a program's maps refused, counted in the kernel: inserts a full hash map refused (per
map) and records a full ring buffer refused. Nothing is dropped silently: tools and
`pybpf trace` report these counts, compiled programs give them as `refused_updates()` and
`lost_events()`.

One array of one element holds a u64 per counted map; the code generator adds 1 to a map's
slot (`MapRef.failed`) through direct value access, branch-free, after a helper reports the
refusal. A `Counters` may serve several functions (the probes of one `pybpf trace` program):
plan them all, then create the array once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pybpf.compiler import analysis, ir

_INSERTS = (ir.MapUpdate, ir.MapAdd, ir.MapStoreField)


class Counters:
    def __init__(self) -> None:
        self.refs: list[ir.MapRef] = []
        self.array: Any = None  # pybpf.maps.Array, created by create()

    def plan(self, fns: Iterable[ir.Function]) -> None:
        """Give a slot to every map the functions insert into (when inserts into it can be
        refused) and to every ring buffer they write to."""
        for fn in fns:
            for node in analysis.walk(fn.body):
                if isinstance(node, _INSERTS) and node.map.counted or \
                        isinstance(node, ir.RingOutput):
                    self._add(node.map)

    def _add(self, ref: ir.MapRef) -> None:
        if any(r is ref for r in self.refs):
            return
        if self.array is not None:
            raise AssertionError(f"map {ref.name} planned after the counters were created")
        self.refs.append(ref)

    def create(self) -> None:
        """Create the array (once) and point every planned map at its slot."""
        if self.array is not None or not self.refs:
            return
        from pybpf import maps

        self.array = maps.Array(value=8 * len(self.refs), max_entries=1, name="refused")
        for k, ref in enumerate(self.refs):
            ref.failed = (self.array, 8 * k)

    def counts(self) -> list[tuple[ir.MapRef, int]]:
        """(map, what it refused so far) for every counted map."""
        if self.array is None or self.array.fd.closed:
            return []
        raw = self.array.get(0)
        return [(ref, int.from_bytes(raw[8 * k:8 * k + 8], "little"))
                for k, ref in enumerate(self.refs)]

    def refused(self) -> dict[str, int]:
        """Inserts refused by each map that refused any, by the map's name."""
        return {ref.name: n for ref, n in self.counts() if n and ref.kind != "ringbuf"}

    def lost(self) -> int:
        """Records the ring buffers refused (they were full)."""
        return sum(n for ref, n in self.counts() if ref.kind == "ringbuf")

    def close(self) -> None:
        if self.array is not None:
            self.array.close()


__all__ = ["Counters"]
