"""The USDT probes of an ELF file: its `.note.stapsdt` notes (SystemTap's format).

Each note (owner "stapsdt", type 3) describes one probe site: three addresses the size of a
pointer — the probe's pc, the link-time address of the `.stapsdt.base` section, and the
semaphore's address (0 when the probe has none) — then three NUL-terminated strings:
provider, name, and the argument spec (see `pybpf.usdt.args`). When the file was moved
after linking (prelink), the `.stapsdt.base` section's real address differs from the one the
note recorded, and the pc and semaphore move by the difference.

A uprobe wants file offsets, so each address is also translated through the PT_LOAD
segment that holds it (`file_offset`, `semaphore_offset`): the latter is the uprobe's
`ref_ctr_offset`, with which the kernel itself raises the semaphore in every process that
maps the file while the probe is attached.
"""

from __future__ import annotations

import fnmatch
import os
import struct
import threading
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pybpf.usdt.args import UsdtArg, parse_args
from pybpf.usdt.errors import UsdtError

NT_STAPSDT = 3
_OWNER = b"stapsdt"


@dataclass(frozen=True)
class UsdtProbe:
    """One probe site of `path`. A probe name may have several sites (a macro expanded in
    several places or inlined): each is its own UsdtProbe with the same provider and name."""

    path: str
    provider: str
    name: str
    address: int  # the probe's virtual address (after the .stapsdt.base adjustment)
    file_offset: int  # where a uprobe goes
    semaphore: int  # the semaphore's virtual address, 0 when none
    semaphore_offset: int  # its file offset: the uprobe's ref_ctr_offset (0 when none)
    arg_spec: str  # the note's argument string

    @property
    def args(self) -> list[UsdtArg]:
        """The parsed arguments (UsdtError for a form pybpf does not read)."""
        try:
            return parse_args(self.arg_spec)
        except UsdtError as e:
            raise UsdtError(f"usdt:{self.path}:{self.provider}:{self.name}: {e}") from None

    @property
    def full_name(self) -> str:
        """bpftrace's name: usdt:PATH:PROVIDER:NAME."""
        return f"usdt:{self.path}:{self.provider}:{self.name}"


@dataclass(frozen=True, slots=True)
class _Segment:
    vaddr: int
    offset: int
    size: int


def _to_offset(segments: list[_Segment], vaddr: int) -> int:
    for seg in segments:
        if seg.vaddr <= vaddr < seg.vaddr + seg.size:
            return vaddr - seg.vaddr + seg.offset
    return vaddr  # no program headers (an object file): addresses are offsets


def _iter_notes(data: bytes, align: int):
    """(name, type, desc) of each note in a SHT_NOTE section's bytes."""
    pos = 0
    a = max(align, 4)
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
        pos += 12
        name = data[pos:pos + namesz].rstrip(b"\0")
        pos += (namesz + a - 1) // a * a
        desc = data[pos:pos + descsz]
        pos += (descsz + a - 1) // a * a
        yield name, ntype, desc


def read_probes(path: str) -> list[UsdtProbe]:
    """Every USDT probe site of ELF file `path`, in note order ([] when it has none)."""
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            if elf["e_machine"] != "EM_X86_64":
                raise UsdtError(f"{path}: USDT arguments are read for x86-64 only, not "
                                f"{elf['e_machine']}")
            segments = [_Segment(s["p_vaddr"], s["p_offset"], max(s["p_filesz"], s["p_memsz"]))
                        for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            base_sec = elf.get_section_by_name(".stapsdt.base")
            base_addr = base_sec["sh_addr"] if base_sec is not None else 0
            note = elf.get_section_by_name(".note.stapsdt")
            if note is None:
                return []
            data, align = note.data(), note["sh_addralign"]
            ptr = 8 if elf.elfclass == 64 else 4
    except FileNotFoundError:
        raise UsdtError(f"binary {path!r} does not exist") from None
    except (ELFError, OSError, struct.error) as e:
        raise UsdtError(f"{path!r} is not a readable ELF file ({e})") from None
    fmt = "<QQQ" if ptr == 8 else "<III"
    probes: list[UsdtProbe] = []
    for owner, ntype, desc in _iter_notes(data, align):
        if owner != _OWNER or ntype != NT_STAPSDT or len(desc) < 3 * ptr:
            continue
        pc, note_base, sema = struct.unpack_from(fmt, desc, 0)
        strings = desc[3 * ptr:].split(b"\0")
        if len(strings) < 3:
            continue
        provider, name, spec = (s.decode("utf-8", "replace") for s in strings[:3])
        if base_addr and note_base:  # the file was moved after linking: move with it
            pc += base_addr - note_base
            if sema:
                sema += base_addr - note_base
        probes.append(UsdtProbe(path, provider, name, pc, _to_offset(segments, pc), sema,
                                _to_offset(segments, sema) if sema else 0, spec))
    return probes


_cache: dict[tuple[str, int, int, int], list[UsdtProbe]] = {}
_lock = threading.Lock()


def probes(path: str) -> list[UsdtProbe]:
    """The cached probes of `path` (re-read when the file changes). `path` may be a command
    or a library name, resolved as uprobes resolve it."""
    from pybpf.symbols import SymbolNotFoundError, resolve_binary

    try:
        real = os.path.realpath(resolve_binary(path))
        st = os.stat(real)
    except (SymbolNotFoundError, OSError) as e:
        raise UsdtError(f"cannot find binary {path!r}: {e}") from None
    key = (real, st.st_dev, st.st_ino, st.st_mtime_ns)
    with _lock:
        found = _cache.get(key)
    if found is None:
        found = read_probes(real)
        with _lock:
            _cache[key] = found
    return found


def find(path: str, name: str, provider: str = "") -> list[UsdtProbe]:
    """The sites of probe `name` (of `provider`, or of any provider when it is ""; both may
    be wildcards) in `path`. UsdtError when none match, naming the probes that exist."""
    found = probes(path)
    match = [p for p in found if fnmatch.fnmatchcase(p.name, name)
             and (not provider or fnmatch.fnmatchcase(p.provider, provider))]
    if match:
        if not provider and not _wild(name) and len({p.provider for p in match}) > 1:
            names = ", ".join(sorted({f"{p.provider}:{p.name}" for p in match}))
            raise UsdtError(f"probe name {name!r} of {path} is ambiguous ({names}): name the "
                            "provider too")
        return match
    what = f"{provider}:{name}" if provider else name
    if not found:
        raise UsdtError(f"{path} has no USDT probes (no .note.stapsdt section)")
    have = ", ".join(sorted({f"{p.provider}:{p.name}" for p in found})[:12])
    raise UsdtError(f"no USDT probe {what!r} in {path}; it has: {have}")


def _wild(text: str) -> bool:
    return any(c in text for c in "*?[")


__all__ = ["NT_STAPSDT", "UsdtProbe", "find", "probes", "read_probes"]
