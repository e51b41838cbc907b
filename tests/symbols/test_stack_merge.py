"""profile/offcputime print each symbolic stack once: stack ids whose frames resolve to the
same functions (different return addresses inside them) merge, values summed."""

from __future__ import annotations

import ctypes
import os

from pybpf.tools import stacks


class FakeStackMap:
    def __init__(self, stacks_by_id: dict[int, list[int]]) -> None:
        self.by_id = stacks_by_id

    def stack(self, stack_id: int) -> list[int]:
        return self.by_id[stack_id]


def _libc_addr(name: str) -> int:
    libc = ctypes.CDLL("libc.so.6")
    return ctypes.cast(getattr(libc, name), ctypes.c_void_p).value


def _items(pid: int) -> list[tuple[tuple, int]]:
    getpid, getppid = _libc_addr("getpid"), _libc_addr("getppid")
    sm = {1: [getpid + 1, getppid + 1], 2: [getpid + 3, getppid + 2], 3: [getppid + 1]}
    items = [((pid, pid, -1, 1, b"py"), 5), ((pid, pid + 1, -1, 2, b"py"), 7),
             ((pid, pid, -1, 3, b"py"), 1)]
    return items, FakeStackMap(sm)


def test_identical_symbolic_stacks_print_once(capsys):
    items, sm = _items(os.getpid())
    folded = stacks.print_stacks(items, stacks.Symbolizer(sm), "multiline", kernel=False)
    out = capsys.readouterr().out
    assert out.count("getpid [libc.so.6]") == 1
    assert "        12\n" in out and "        1\n" in out
    assert folded == {"py;getppid_[libc.so.6];getpid_[libc.so.6]": 12,
                      "py;getppid_[libc.so.6]": 1}


def test_folded_lines_are_unique(capsys):
    items, sm = _items(os.getpid())
    stacks.print_stacks(items, stacks.Symbolizer(sm), "folded", kernel=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["py;getppid_[libc.so.6] 1", "py;getppid_[libc.so.6];getpid_[libc.so.6] 12"]


def test_offsets_keep_distinct_addresses_apart(capsys):
    items, sm = _items(os.getpid())
    stacks.print_stacks(items, stacks.Symbolizer(sm, offsets=True), "multiline", kernel=False)
    out = capsys.readouterr().out
    assert "getpid+0x1 [libc.so.6]" in out and "getpid+0x3 [libc.so.6]" in out
