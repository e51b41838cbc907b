"""ELF symbols of user-space binaries and shared libraries (through pyelftools).

`elf_symbol(path, name)` gives the symbol's virtual address, size and file offset. The file
offset is what uprobes want: the address is translated through the PT_LOAD segment holding it,
which is right for executables, PIE executables and shared libraries alike. Parsed tables are
cached per (path, inode, mtime), so a rebuilt binary is read again.
"""

from __future__ import annotations

import bisect
import os
import threading
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pybpf.symbols.errors import SymbolNotFoundError, nearest

_FUNC_TYPES = {"STT_FUNC", "STT_LOOS", "STT_GNU_IFUNC"}  # STT_LOOS == STT_GNU_IFUNC (10)
_DATA_TYPES = {"STT_OBJECT", "STT_TLS", "STT_COMMON"}
_BIND_RANK = {"STB_GLOBAL": 0, "STB_WEAK": 1, "STB_LOCAL": 2}


class ElfSymbol(tuple[int, int, int]):
    """Unpacks as (addr, size, file_offset); also has `name`, `kind` ("func"/"object") and
    `ifunc` (a GNU indirect function: probing it catches the resolver, not the calls)."""

    name: str
    kind: str
    ifunc: bool

    def __new__(cls, addr: int, size: int, file_offset: int, name: str = "",
                kind: str = "func", ifunc: bool = False) -> ElfSymbol:
        self = super().__new__(cls, (addr, size, file_offset))
        self.name, self.kind, self.ifunc = name, kind, ifunc
        return self

    @property
    def addr(self) -> int:
        return self[0]

    @property
    def size(self) -> int:
        return self[1]

    @property
    def file_offset(self) -> int:
        return self[2]

    def __repr__(self) -> str:
        return (f"ElfSymbol({self.name!r}, addr=0x{self.addr:x}, size={self.size}, "
                f"file_offset=0x{self.file_offset:x}, kind={self.kind!r}"
                f"{', ifunc' if self.ifunc else ''})")


@dataclass(frozen=True, slots=True)
class Segment:
    vaddr: int
    offset: int
    filesz: int
    memsz: int
    executable: bool


class ElfSymbols:
    """The function and object symbols of one ELF file (.symtab and .dynsym together)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                elf = ELFFile(f)
                self.elf_type = elf["e_type"]
                self.segments = [
                    Segment(s["p_vaddr"], s["p_offset"], s["p_filesz"], s["p_memsz"],
                            bool(s["p_flags"] & 1))
                    for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
                self._by_name: dict[str, ElfSymbol] = {}
                ranked: dict[str, tuple[int, int]] = {}
                for secname in (".symtab", ".dynsym"):
                    sec = elf.get_section_by_name(secname)
                    if sec is None or not hasattr(sec, "iter_symbols"):
                        continue
                    for sym in sec.iter_symbols():
                        self._add(sym, ranked)
        except FileNotFoundError:
            raise SymbolNotFoundError(f"binary {path!r} does not exist") from None
        except (ELFError, OSError) as e:
            raise SymbolNotFoundError(f"{path!r} is not a readable ELF file ({e})") from None
        by_addr = sorted({(s.addr, s.name): s for s in self._by_name.values()
                          if s.kind == "func" and s.addr}.values())
        self._sorted = by_addr
        self._addrs = [s.addr for s in by_addr]

    def _add(self, sym, ranked: dict[str, tuple[int, int]]) -> None:
        info = sym["st_info"]
        styp = info["type"]
        if not sym.name or sym["st_shndx"] == "SHN_UNDEF" or sym["st_value"] == 0:
            return
        if styp in _FUNC_TYPES:
            kind = "func"
        elif styp in _DATA_TYPES:
            kind = "object"
        else:
            return
        name = sym.name.split("@", 1)[0]
        ifunc = styp != "STT_FUNC" and kind == "func"
        # prefer plain functions over ifuncs, then global over weak over local
        rank = (1 if ifunc else 0, _BIND_RANK.get(info["bind"], 3))
        if name in ranked and ranked[name] <= rank:
            return
        addr = sym["st_value"]
        ranked[name] = rank
        self._by_name[name] = ElfSymbol(addr, sym["st_size"], self.vaddr_to_offset(addr),
                                        name, kind, ifunc)

    def vaddr_to_offset(self, vaddr: int) -> int:
        """The file offset of virtual address `vaddr` (through its PT_LOAD segment)."""
        for seg in self.segments:
            if seg.vaddr <= vaddr < seg.vaddr + max(seg.memsz, seg.filesz):
                return vaddr - seg.vaddr + seg.offset
        return vaddr  # no program headers (relocatable object): addresses are offsets

    def offset_to_vaddr(self, offset: int) -> int | None:
        """The virtual address of file offset `offset`, or None outside every PT_LOAD."""
        for seg in self.segments:
            if seg.offset <= offset < seg.offset + seg.filesz:
                return offset - seg.offset + seg.vaddr
        return None

    def symbol(self, name: str) -> ElfSymbol:
        sym = self._by_name.get(name)
        if sym is None:
            raise SymbolNotFoundError(
                f"symbol {name!r} is not in {self.path}",
                nearest(name, (n for n, s in self._by_name.items() if s.kind == "func")))
        return sym

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def lookup(self, vaddr: int) -> tuple[ElfSymbol, int] | None:
        """The function containing virtual address `vaddr` and the offset into it."""
        i = bisect.bisect_right(self._addrs, vaddr) - 1
        if i < 0:
            return None
        sym = self._sorted[i]
        off = vaddr - sym.addr
        if sym.size and off >= sym.size:
            # past the end of the nearest function: only accept it if the next one is close
            nxt = self._addrs[i + 1] if i + 1 < len(self._addrs) else None
            if nxt is None or off > 0x10000:
                return None
        return sym, off

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


_cache: dict[tuple[str, int, int, int], ElfSymbols] = {}
_lock = threading.Lock()


def elf_symbols(path: str) -> ElfSymbols:
    """The cached symbol table of `path` (re-read when the file changes)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise SymbolNotFoundError(f"binary {path!r} does not exist") from None
    key = (real, st.st_dev, st.st_ino, st.st_mtime_ns)
    with _lock:
        table = _cache.get(key)
    if table is None:
        table = ElfSymbols(real)
        with _lock:
            _cache[key] = table
    return table


def elf_symbol(path: str, name: str) -> ElfSymbol:
    """(addr, size, file_offset) of symbol `name` in the ELF file `path`; `path` may be a
    bare library or command name ("libc", "c", "python3"), resolved by `resolve_binary`."""
    from pybpf.symbols.resolve import resolve_binary

    return elf_symbols(resolve_binary(path)).symbol(name)
