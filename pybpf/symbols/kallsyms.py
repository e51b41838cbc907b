"""Kernel symbols from /proc/kallsyms: address -> "name+0xoff" and name -> address.

The table is read once (lazily) and kept sorted by address, so `ksym` is a bisect. Without
privilege the kernel shows zero addresses; then the table is empty for address lookups and
`ksym_addr` raises with a sentence saying why.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

from pybpf.symbols.errors import SymbolNotFoundError, nearest

KALLSYMS = "/proc/kallsyms"
# no function of a module or JIT image is this long: an address further past the last symbol
# before it is in memory no symbol names (a gap between modules, or past the last one)
MAX_MODULE_SYMBOL_SPAN = 1 << 20


@dataclass(frozen=True, slots=True)
class KernelSymbol:
    addr: int
    kind: str  # the nm-style type letter: T/t text, D/d data, ...
    name: str
    module: str | None


class KernelSymbols:
    """A loaded /proc/kallsyms table."""

    def __init__(self, path: str = KALLSYMS) -> None:
        syms: list[KernelSymbol] = []
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                module = parts[3].strip("[]") if len(parts) > 3 else None
                syms.append(KernelSymbol(int(parts[0], 16), parts[1], parts[2], module))
        self.hidden = bool(syms) and all(s.addr == 0 for s in syms)
        syms = [s for s in syms if s.addr != 0]
        syms.sort(key=lambda s: s.addr)
        self._syms = syms
        self._addrs = [s.addr for s in syms]
        self.data_symbols = sum(s.kind in "DdBbRr" for s in syms)
        # where the kernel image ends: `_end` when kallsyms lists variables, else its last
        # symbol (past it lie the direct map, vmalloc and module space, not the image)
        core = [s.addr for s in syms if s.module is None]
        end = next((s.addr for s in syms if s.name == "_end" and s.module is None), None)
        self._core_end = end if end is not None else (max(core) + 1 if core else 0)
        self._by_name: dict[str, KernelSymbol] = {}
        for s in syms:
            # the first text symbol of a name wins (static functions may repeat a name)
            old = self._by_name.get(s.name)
            if old is None or (old.kind.upper() != "T" and s.kind.upper() == "T"):
                self._by_name[s.name] = s

    def __len__(self) -> int:
        return len(self._syms)

    def lookup(self, addr: int) -> tuple[KernelSymbol, int] | None:
        """The symbol containing `addr` and the offset into it, or None where no symbol
        can contain it: below the first, past the kernel image's end, or further past a
        module's (or BPF program's) symbol than any function is long."""
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        sym = self._syms[i]
        off = addr - sym.addr
        if sym.module is None and addr >= self._core_end:
            return None
        if sym.module is not None and off >= MAX_MODULE_SYMBOL_SPAN:
            return None
        return sym, off

    def ksym(self, addr: int, with_offset: bool = True) -> str:
        found = self.lookup(addr)
        if found is None:
            return f"0x{addr:x}"
        sym, off = found
        name = sym.name if sym.module is None else f"{sym.name} [{sym.module}]"
        if not with_offset or off == 0:
            return name
        if sym.module is None:
            return f"{sym.name}+0x{off:x}"
        return f"{sym.name}+0x{off:x} [{sym.module}]"

    def symbol(self, name: str) -> KernelSymbol:
        sym = self._by_name.get(name)
        if sym is None:
            if self.hidden:
                raise SymbolNotFoundError(
                    f"kernel symbol {name!r}: /proc/kallsyms shows no addresses "
                    "(run as root or set kernel.kptr_restrict=0)")
            why = ""
            if self.data_symbols < 1000:  # a kernel of many functions but a few variables
                why = (f" (it lists {self.data_symbols} data symbols: this kernel was built "
                       "without CONFIG_KALLSYMS_ALL, so its variables cannot be found by "
                       "name)")
            raise SymbolNotFoundError(f"kernel symbol {name!r} is not in {KALLSYMS}{why}",
                                      nearest(name, self._by_name))
        return sym

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


_table: KernelSymbols | None = None
_lock = threading.Lock()


def kernel_symbols(reload: bool = False) -> KernelSymbols:
    """The process-wide table, loaded on first use (or again with reload=True)."""
    global _table
    with _lock:
        if _table is None or reload:
            _table = KernelSymbols()
        return _table


def ksym(addr: int, with_offset: bool = True) -> str:
    """The kernel symbol at `addr` as "name+0x1a" (bpftrace's ksym prints without offset)."""
    return kernel_symbols().ksym(addr, with_offset)


def ksym_addr(name: str) -> int:
    """The address of kernel symbol `name`; SymbolNotFoundError with near names if absent."""
    return kernel_symbols().symbol(name).addr
