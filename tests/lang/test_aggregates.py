"""avg(), stats(), min() and max() evaluate their map key once per statement: a key that
changes between two reads (nsecs) gives one entry per event with the right value, and a full
map refuses each event once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.util import requires_root

pytestmark = requires_root


@contextmanager
def attached(src: str) -> Iterator[object]:
    from pybpf.lang import runtime
    from pybpf.lang.compile import Compiler

    comp = Compiler(src)
    progs, links = [], []
    try:
        for cp in comp.compile():
            progs.append(runtime.load(cp))
            links.append(runtime.attach(cp, progs[-1]))
        yield comp
    finally:
        for x in links + progs:
            x.close()
        comp.close()


def _values(comp: object, name: str) -> list[bytes]:
    info = next(i for i in comp.syms.maps.values() if i.display == name)  # type: ignore
    return [v for _, v in info.ref.obj.raw_items()]


@pytest.mark.parametrize("agg, check", [
    ("avg(5)", lambda v: int.from_bytes(v[:8], "little") >= 1 and
     int.from_bytes(v[8:16], "little") == 5 * int.from_bytes(v[:8], "little")),
    ("stats(7)", lambda v: int.from_bytes(v[8:16], "little") ==
     7 * int.from_bytes(v[:8], "little")),
    ("max(3)", lambda v: int.from_bytes(v[:8], "little") == 3),
])
def test_a_changing_key_is_read_once(no_leaks, agg: str, check) -> None:
    n = 300
    src = f"tracepoint:syscalls:sys_enter_getppid /pid == {os.getpid()}/ {{ @m[nsecs] = {agg}; }}"
    with attached(src) as comp:
        for _ in range(n):
            os.getppid()
        values = _values(comp, "@m")
    # one entry per event (each key read once), each with the whole aggregate of its event
    assert len(values) == n, len(values)
    assert all(check(v) for v in values)
    if agg != "max(3)":
        assert all(int.from_bytes(v[:8], "little") == 1 for v in values)


def test_a_full_map_refuses_each_event_once(no_leaks) -> None:
    from pybpf.lang.compile import MAX_ENTRIES

    n = MAX_ENTRIES + 500
    src = f"tracepoint:syscalls:sys_enter_getppid /pid == {os.getpid()}/ {{ @m[nsecs] = stats(1); }}"
    with attached(src) as comp:
        for _ in range(n):
            os.getppid()
        refused, lost = comp.refused()  # type: ignore[attr-defined]
        stored = len(_values(comp, "@m"))
    assert stored == MAX_ENTRIES and lost == 0
    assert refused == {"@m": n - MAX_ENTRIES}
