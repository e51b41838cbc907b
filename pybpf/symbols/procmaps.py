"""User-space address -> symbol for a running process, through /proc/PID/maps."""

from __future__ import annotations

import bisect
import os
import threading
from dataclasses import dataclass

from pybpf.symbols.elf import elf_symbols
from pybpf.symbols.errors import SymbolNotFoundError


@dataclass(frozen=True, slots=True)
class Mapping:
    start: int
    end: int
    perms: str
    offset: int
    path: str

    @property
    def name(self) -> str:
        return os.path.basename(self.path) if self.path.startswith("/") else self.path


class ProcessMaps:
    """The file-backed mappings of one process, sorted by address."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        maps: list[Mapping] = []
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    parts = line.split(None, 5)
                    if len(parts) < 5:
                        continue
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    path = parts[5].strip() if len(parts) == 6 else ""
                    maps.append(Mapping(start, end, parts[1], int(parts[2], 16), path))
        except FileNotFoundError:
            raise SymbolNotFoundError(f"process {pid} does not exist") from None
        maps.sort(key=lambda m: m.start)
        self.mappings = maps
        self._starts = [m.start for m in maps]

    def find(self, addr: int) -> Mapping | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self.mappings[i].end:
            return self.mappings[i]
        return None

    def usym(self, addr: int, with_offset: bool = True) -> str:
        """"name+0x1a [libc.so.6]"; an address no symbol covers is bcc's "[unknown]
        [libc.so.6]", or with offsets "[libc.so.6+0x2a1b0]" (the offset in the file, what
        `addr2line -e` and `objdump --start-address` take)."""
        m = self.find(addr)
        if m is None:
            return f"0x{addr:x}"
        if not m.path.startswith("/") or m.path.endswith(" (deleted)"):
            return f"0x{addr:x} [{m.name or 'anon'}]"
        file_offset = addr - m.start + m.offset
        try:
            table = elf_symbols(_proc_path(self.pid, m))
        except SymbolNotFoundError:
            return unknown_frame(m.name, file_offset, with_offset)
        vaddr = table.offset_to_vaddr(file_offset)
        found = table.lookup(vaddr) if vaddr is not None else None
        if found is None:
            return unknown_frame(m.name, file_offset, with_offset)
        sym, off = found
        if with_offset and off:
            return f"{sym.name}+0x{off:x} [{m.name}]"
        return f"{sym.name} [{m.name}]"


def unknown_frame(module: str, file_offset: int, with_offset: bool) -> str:
    """A frame in `module` that no symbol covers."""
    return f"[{module}+0x{file_offset:x}]" if with_offset else f"[unknown] [{module}]"


def _proc_path(pid: int, m: Mapping) -> str:
    """The mapped file, through /proc/PID/root so that binaries in other mount namespaces
    (containers) resolve too."""
    root = f"/proc/{pid}/root{m.path}"
    return root if pid != os.getpid() and os.path.exists(root) else m.path


_maps_cache: dict[int, ProcessMaps] = {}
_lock = threading.Lock()


def process_maps(pid: int, refresh: bool = False) -> ProcessMaps:
    with _lock:
        pm = _maps_cache.get(pid)
    if pm is None or refresh:
        pm = ProcessMaps(pid)
        with _lock:
            if len(_maps_cache) > 1024:
                _maps_cache.clear()
            _maps_cache[pid] = pm
    return pm


def usym(pid: int, addr: int, with_offset: bool = True) -> str:
    """The symbol at user address `addr` in process `pid`, as "name+0x1a [libc.so.6]".
    The process's maps are cached; a miss re-reads them once (libraries load late)."""
    pm = process_maps(pid)
    if pm.find(addr) is None:
        pm = process_maps(pid, refresh=True)
    return pm.usym(addr, with_offset)
