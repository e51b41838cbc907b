"""ELF symbols of user-space binaries and shared libraries (through pyelftools).

`elf_symbol(path, name)` gives the symbol's virtual address, size and file offset. The file
offset is what uprobes want: the address is translated through the PT_LOAD segment holding it,
which is right for executables, PIE executables and shared libraries alike. Parsed tables are
cached per (path, inode, mtime), so a rebuilt binary is read again.

Symbols come from the file's `.symtab` and `.dynsym`, its `.gnu_debugdata` (an xz-compressed
ELF with a mini symbol table, as Fedora ships stripped libraries) and a separate debug file
found by build id (`/usr/lib/debug/.build-id/xx/yyyy.debug`, Debian's -dbg/-dbgsym packages),
so that stripped libraries still name their local functions.
"""

from __future__ import annotations

import bisect
import io
import lzma
import os
import threading
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pybpf.symbols.errors import SymbolNotFoundError, nearest

_FUNC_TYPES = {"STT_FUNC", "STT_LOOS", "STT_GNU_IFUNC"}  # STT_LOOS == STT_GNU_IFUNC (10)
_DATA_TYPES = {"STT_OBJECT", "STT_TLS", "STT_COMMON"}
_BIND_RANK = {"STB_GLOBAL": 0, "STB_WEAK": 1, "STB_LOCAL": 2}
# where separate debug files live (the build id's first byte names the subdirectory)
DEBUG_ROOTS = ["/usr/lib/debug"]


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
        self.build_id: str | None = None
        self.sources: list[str] = []  # where the symbols came from, for messages and tests
        self._by_name: dict[str, ElfSymbol] = {}
        ranked: dict[str, tuple[int, int]] = {}
        funcs: list[tuple[int, ElfSymbol]] = []
        try:
            with open(path, "rb") as f:
                elf = ELFFile(f)
                self.elf_type = elf["e_type"]
                self.segments = [
                    Segment(s["p_vaddr"], s["p_offset"], s["p_filesz"], s["p_memsz"],
                            bool(s["p_flags"] & 1))
                    for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
                self.build_id = _build_id(elf)
                has_symtab = self._read_tables(elf, path, ranked, funcs)
                mini = _debugdata(elf)
        except FileNotFoundError:
            raise SymbolNotFoundError(f"binary {path!r} does not exist") from None
        except (ELFError, OSError) as e:
            raise SymbolNotFoundError(f"{path!r} is not a readable ELF file ({e})") from None
        if mini is not None:
            self._read_tables(ELFFile(io.BytesIO(mini)), f"{path} .gnu_debugdata", ranked,
                              funcs)
        if not has_symtab:
            debug = self._debug_file()
            if debug is not None:
                try:
                    with open(debug, "rb") as f:
                        self._read_tables(ELFFile(f), debug, ranked, funcs)
                except (ELFError, OSError):
                    pass  # a damaged debug file: the binary's own symbols still serve
        # address order; at one address a sized symbol beats a size-0 label, then the
        # public spelling beats the internal one (getpid over __getpid: fewer leading
        # underscores), then global beats weak beats local, then the first table read
        best: dict[int, tuple[tuple[int, int, int], ElfSymbol]] = {}
        for bind, sym in funcs:
            rank = (0 if sym.size else 1, len(sym.name) - len(sym.name.lstrip("_")), bind)
            old = best.get(sym.addr)
            if old is None or rank < old[0]:
                best[sym.addr] = (rank, sym)
        by_addr = sorted(sym for _, sym in best.values())
        self._sorted = by_addr
        self._addrs = [s.addr for s in by_addr]

    def _read_tables(self, elf: ELFFile, source: str, ranked: dict[str, tuple[int, int]],
                     funcs: list[tuple[int, ElfSymbol]]) -> bool:
        """Add the symbols of `elf`'s .symtab and .dynsym; True if it had a .symtab."""
        has_symtab = False
        for secname in (".symtab", ".dynsym"):
            sec = elf.get_section_by_name(secname)
            if sec is None or not hasattr(sec, "iter_symbols"):
                continue
            has_symtab = has_symtab or secname == ".symtab"
            n = len(funcs)
            for sym in sec.iter_symbols():
                self._add(sym, ranked, funcs)
            if len(funcs) > n and f"{source} {secname}" not in self.sources:
                self.sources.append(f"{source} {secname}")
        return has_symtab

    def _debug_file(self) -> str | None:
        if not self.build_id or len(self.build_id) < 4:
            return None
        for root in DEBUG_ROOTS:
            cand = os.path.join(root, ".build-id", self.build_id[:2], self.build_id[2:] + ".debug")
            if os.path.isfile(cand):
                return cand
        return None

    def _add(self, sym, ranked: dict[str, tuple[int, int]],
             funcs: list[tuple[int, ElfSymbol]]) -> None:
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
        addr = sym["st_value"]
        entry = ElfSymbol(addr, sym["st_size"], self.vaddr_to_offset(addr), name, kind, ifunc)
        if kind == "func":  # address lookups keep every function, aliases too
            funcs.append((_BIND_RANK.get(info["bind"], 3), entry))
        # prefer plain functions over ifuncs, then global over weak over local
        rank = (1 if ifunc else 0, _BIND_RANK.get(info["bind"], 3))
        if name in ranked and ranked[name] <= rank:
            return
        ranked[name] = rank
        self._by_name[name] = entry

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
            # past the end of the nearest function: the address is in code no symbol
            # describes (a stripped local function); naming the previous one would lie
            return None
        if not sym.size and off > _UNSIZED_REACH:
            return None  # a size-0 label (assembly) covers only the code right after it
        return sym, off

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


_UNSIZED_REACH = 0x1000


def _build_id(elf: ELFFile) -> str | None:
    """The GNU build id (hex) from the PT_NOTE segments or .note sections."""
    for sec in elf.iter_sections():
        if sec["sh_type"] != "SHT_NOTE":
            continue
        for note in sec.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID":
                return str(note["n_desc"])
    return None


def _debugdata(elf: ELFFile) -> bytes | None:
    """The decompressed .gnu_debugdata ELF image, or None (absent or not valid xz)."""
    sec = elf.get_section_by_name(".gnu_debugdata")
    if sec is None:
        return None
    try:
        return lzma.decompress(sec.data())
    except (lzma.LZMAError, OSError, ValueError):
        return None


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
