"""The :class:`BTF` object: lazy access to the types of one BTF blob (optionally split).

Loading maps the file and builds (or reads from the disk cache) an index of where records
start; nothing is decoded until asked for. Types are decoded one at a time and kept.
"""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pybpf.btf import cache
from pybpf.btf import types as t
from pybpf.btf.decode import decode
from pybpf.btf.errors import BTFError, BTFFileError, BTFNotFoundError
from pybpf.btf.format import KIND_BY_NAME, KIND_NAMES, Header
from pybpf.btf.index import Index, scan

if TYPE_CHECKING:
    from pybpf.btf.paths import MemberPath

_PREFIXES = ("struct ", "union ", "enum ")
# With no kind given, a name is looked up among these kinds first, in this order of groups.
_PREFERENCE = (
    ("struct", "union", "enum", "enum64", "typedef", "int", "float"),
    ("fwd",),
    ("func", "var", "datasec"),
)
_KIND_ALIASES = {"enum": ("enum", "enum64"), "function": ("func",), "proto": ("func_proto",)}
POINTER_SIZE = 8
CACHE_LIMIT = 16384  # decoded types kept per BTF before the cache is dropped and refilled
#: Largest BTF file :meth:`BTF.load` reads: vmlinux BTF is a few MB, so anything near this is
#: not BTF (e.g. a disk image named by mistake) and is refused before it fills memory.
MAX_FILE_SIZE = 256 << 20
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK  # a FIFO must not block


def _kinds(kind: str | None) -> frozenset[int] | None:
    if kind is None:
        return None
    names = _KIND_ALIASES.get(kind, (kind,))
    try:
        return frozenset(KIND_BY_NAME[n] for n in names)
    except KeyError:
        raise ValueError(f"unknown BTF kind {kind!r}; expected one of {', '.join(KIND_NAMES[1:])}") from None


class BTF:
    """Types of one BTF blob. Split BTF (e.g. a kernel module's) takes its ``base``."""

    def __init__(self, data: bytes | mmap.mmap, *, base: BTF | None = None, name: str = "",
                 index: Index | None = None, header: Header | None = None) -> None:  # fmt: skip
        self.name = name
        self.base = base
        self._data = data
        self._hdr = header or Header(data, split=base is not None)
        h = self._hdr
        self._words = memoryview(data)[h.type_start : h.type_start + h.type_len].cast("I")
        self.first_id = base.nr_types if base is not None else 1
        self._str_base = base._str_end if base is not None else 0
        self._str_end = self._str_base + h.str_len
        self._index = index if index is not None else scan(self._words, self.first_id)
        self.nr_types = self.first_id + len(self._index)
        self._types: dict[int, t.Type] = {0: t.Void(self, 0, "")} if base is None else {}
        self._by_name: dict[str, list[int]] = {}

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, base: BTF | None = None, name: str = "") -> BTF:
        """Parse raw BTF bytes (raises :class:`BTFError` when they are malformed)."""
        return cls(bytes(data), base=base, name=name)

    @classmethod
    def load(cls, path: str, base: BTF | None = None, *, use_cache: bool = True) -> BTF:
        """Load a raw BTF file such as ``/sys/kernel/btf/vmlinux`` (mapped, not read).

        Raises :class:`~pybpf.btf.errors.BTFFileError` (one line naming the file) when the
        file is missing, not a regular file, larger than :data:`MAX_FILE_SIZE` or not BTF.
        """
        data = _map_file(path)
        try:
            header = Header(data, split=base is not None)
            index = None
            key = b""
            use_cache = use_cache and cache.cache_dir() is not None  # no hashing when off
            if use_cache:
                key = cache.index_key(data, header)
                start = header.type_start
                words = memoryview(data)[start : start + header.type_len].cast("I")
                index = cache.load(path, key, words)
            btf = cls(data, base=base, name=os.path.basename(path), index=index, header=header)
        except BTFError as e:
            raise BTFFileError(path, f"not valid BTF: {e}") from None
        if use_cache and index is None:
            cache.store(path, key, btf._index)
        return btf

    # ----------------------------------------------------------------- raw access
    def __len__(self) -> int:
        """Number of type ids, including void and those of the base."""
        return self.nr_types

    def __repr__(self) -> str:
        base = f" on {self.base.name or 'base'}" if self.base else ""
        return f"<BTF {self.name or '(bytes)'}: {self.nr_types} types{base}>"

    def string(self, offset: int) -> str:
        """The string at ``offset`` of the (possibly split) string section."""
        if offset < self._str_base:
            assert self.base is not None
            return self.base.string(offset)
        local = offset - self._str_base
        h = self._hdr
        if local >= h.str_len:
            raise BTFError(f"string offset {offset} is outside the string section ({self._str_end} bytes)")
        start = h.str_start + local
        end = self._data.find(b"\0", start, h.str_start + h.str_len)
        return self._data[start:end].decode("utf-8", "replace")

    def _at(self, tid: int) -> int:
        return self._index.offsets[tid - self.first_id]

    # ----------------------------------------------------------------- by id
    def type_by_id(self, tid: int) -> t.Type:
        """The type with id ``tid`` (0 is void)."""
        found = self._types.get(tid)
        if found is not None:
            return found
        if tid < self.first_id:
            if self.base is not None and tid >= 0:
                return self.base.type_by_id(tid)
        elif tid < self.nr_types:
            if len(self._types) >= CACHE_LIMIT:  # keep memory bounded: start over
                self._types = {0: self._types[0]} if 0 in self._types else {}
            found = self._types[tid] = decode(self, tid, self._words, self._at(tid))
            return found
        raise BTFNotFoundError(f"type id {tid} is out of range: this BTF has ids 0..{self.nr_types - 1}")

    def types(self, kind: str | None = None, *, with_base: bool = False) -> Iterator[t.Type]:
        """Every type of this blob (and of its base with ``with_base``), in id order.

        Types met here are decoded but not kept, so a full walk does not hold them all.
        """
        if with_base and self.base is not None:
            yield from self.base.types(kind, with_base=True)
        kinds = _kinds(kind)
        words, offsets, first = self._words, self._index.offsets, self.first_id
        for i in range(len(self._index)):
            at = offsets[i]
            if kinds is None or (words[at + 1] >> 24) & 0x1F in kinds:
                tid = first + i
                yield self._types.get(tid) or decode(self, tid, words, at)

    def kind_counts(self) -> dict[str, int]:
        """Number of types of each kind in this blob (without its base)."""
        counts = [0] * 32
        words = self._words
        for at in self._index.offsets[:-1]:
            counts[(words[at + 1] >> 24) & 0x1F] += 1
        return {KIND_NAMES[k]: n for k, n in enumerate(counts) if n}

    # ----------------------------------------------------------------- by name
    def _name_offsets(self, name: bytes) -> list[int]:
        offs = self.base._name_offsets(name) if self.base is not None else []
        h, data = self._hdr, self._data
        lo, hi = h.str_start, h.str_start + h.str_len
        if data[lo : lo + len(name) + 1] == name + b"\0":
            offs.append(self._str_base)
        needle = b"\0" + name + b"\0"
        pos = data.find(needle, lo, hi)
        while pos >= 0:
            offs.append(pos + 1 - lo + self._str_base)
            pos = data.find(needle, pos + 1, hi)
        return offs

    def _kind_of(self, tid: int) -> int:
        if tid < self.first_id:
            return self.base._kind_of(tid) if self.base is not None else 0
        return (self._words[self._index.offsets[tid - self.first_id] + 1] >> 24) & 0x1F

    def _all_ids_named(self, name: str) -> list[int]:
        known = self._by_name.get(name)
        if known is not None:
            return known
        ids = list(self.base._all_ids_named(name)) if self.base is not None else []
        if name:
            for off in self._name_offsets(name.encode()):
                ids += [self.first_id + pos for pos in self._index.with_name(off)]
        ids = sorted(set(ids))
        if len(self._by_name) >= CACHE_LIMIT:
            self._by_name.clear()
        self._by_name[name] = ids
        return ids

    def _ids_named(self, name: str, kinds: frozenset[int] | None) -> list[int]:
        ids = self._all_ids_named(name)
        return ids if kinds is None else [i for i in ids if self._kind_of(i) in kinds]

    def find_all(self, name: str, kind: str | None = None) -> list[t.Type]:
        """All types called ``name`` (optionally of one ``kind``), in id order."""
        name, kind = _split_prefix(name, kind)
        return [self.type_by_id(i) for i in self._ids_named(name, _kinds(kind))]

    def find(self, name: str, kind: str | None = None) -> t.Type:
        """The type called ``name``; ``kind`` narrows it ("struct", "enum", "func", ...).

        ``"struct foo"``, ``"union foo"`` and ``"enum foo"`` are understood too. Without a
        kind, data types (struct, union, enum, typedef, int, float) win over forward
        declarations, which win over functions and variables. Raises
        :class:`BTFNotFoundError` (a ``KeyError``) naming the closest names.
        """
        name, kind = _split_prefix(name, kind)
        kinds = _kinds(kind)
        ids = self._ids_named(name, kinds)
        if ids and kinds is None:
            for group in _PREFERENCE:
                for tid in ids:
                    if KIND_NAMES[self._kind_of(tid)] in group:
                        return self.type_by_id(tid)
        if ids:
            return self.type_by_id(ids[0])
        what = f"{kind} {name}" if kind else name
        raise BTFNotFoundError(f"no BTF type {what!r} in {self.name or 'this BTF'}", lambda: self.suggest(name, kind))

    def suggest(self, name: str, kind: str | None = None, n: int = 3) -> list[str]:
        """Names of types (of ``kind``) that are close to ``name``."""
        from pybpf.btf.errors import suggest

        return suggest(name, self.names(kind, with_base=True), n)

    def names(self, kind: str | None = None, *, with_base: bool = False) -> set[str]:
        """The set of names of all types (of ``kind``)."""
        found = self.base.names(kind, with_base=True) if with_base and self.base is not None else set()
        kinds = _kinds(kind)
        words = self._words
        for at in self._index.offsets[:-1]:
            if words[at] and (kinds is None or (words[at + 1] >> 24) & 0x1F in kinds):
                found.add(self.string(words[at]))
        return found

    def _typed(self, name: str, kind: str, cls: type) -> t.Type:
        found = self.find(name, kind)
        assert isinstance(found, cls)
        return found

    def struct(self, name: str) -> t.Struct:
        return self._typed(name, "struct", t.Struct)  # type: ignore[return-value]

    def union(self, name: str) -> t.Union:
        return self._typed(name, "union", t.Union)  # type: ignore[return-value]

    def enum(self, name: str) -> t.Enum:
        """An ``enum`` or ``enum64`` by name; ``.values`` maps its names to values."""
        return self._typed(name, "enum", t.Enum)  # type: ignore[return-value]

    def typedef(self, name: str) -> t.Typedef:
        return self._typed(name, "typedef", t.Typedef)  # type: ignore[return-value]

    def func(self, name: str) -> t.Func:
        """A function: ``.proto.params`` ``[(name, type)]`` and ``.proto.ret``."""
        return self._typed(name, "func", t.Func)  # type: ignore[return-value]

    def var(self, name: str) -> t.Var:
        return self._typed(name, "var", t.Var)  # type: ignore[return-value]

    def enum_value(self, name: str) -> int:
        """The value of an enumerator (e.g. ``BPF_FUNC_map_lookup_elem``), searched in all enums."""
        for tid in self._ids_with_member_name(name):
            e = self.type_by_id(tid)
            if isinstance(e, t.Enum) and name in e.values:
                return e.values[name]
        raise BTFNotFoundError(f"no enumerator {name!r} in {self.name or 'this BTF'}")

    def _ids_with_member_name(self, name: str) -> Iterator[int]:
        enum_kinds = frozenset((KIND_BY_NAME["enum"], KIND_BY_NAME["enum64"]))
        if self.base is not None:
            yield from self.base._ids_with_member_name(name)
        if not self._name_offsets(name.encode()):
            return
        words, offsets = self._words, self._index.offsets
        for i in range(len(self._index)):
            if (words[offsets[i] + 1] >> 24) & 0x1F in enum_kinds:
                yield self.first_id + i

    # ----------------------------------------------------------------- layout
    def _as_type(self, x: str | int | t.Type) -> t.Type:
        if isinstance(x, t.Type):
            return x
        if isinstance(x, int):
            return self.type_by_id(x)
        text = x.strip()
        stars = len(text) - len(text.rstrip("* "))
        base = self.find(text.rstrip("* "))
        if "*" in text[len(text) - stars :]:
            return _PointerTo(self, base)
        return base

    def sizeof(self, x: str | int | t.Type) -> int:
        """Size in bytes of a type (object, id or name such as ``"struct task_struct"``)."""
        typ = self._as_type(x)
        count = 1
        for _ in range(t.MAX_CHAIN * 4):
            if isinstance(typ, t.Modifier):
                typ = typ.target
            elif isinstance(typ, t.Array):
                count *= typ.nelems
                typ = typ.elem
            elif isinstance(typ, t.Var):
                typ = typ.type
            elif isinstance(typ, (t.Ptr, _PointerTo)):
                return count * POINTER_SIZE
            elif isinstance(typ, (t.Int, t.Float, t.Composite, t.Enum, t.Datasec)):
                return count * typ.size
            else:
                raise BTFError(f"{typ} ({typ.kind}) has no size")
        raise BTFError(f"type {x} nests too deeply (a loop?)")

    def member(self, x: str | int | t.Type, path: str, *, follow_pointers: bool = True) -> MemberPath:
        """Resolve a dotted member path (``"real_parent.tgid"``) from a struct or union.

        Anonymous members are looked through; pointers are followed when
        ``follow_pointers`` (the result's ``chain`` lists the pointer offsets loaded).
        """
        from pybpf.btf import paths

        root = self._as_type(x)
        return paths.resolve(self, root, path, follow_pointers)

    def offsetof(self, x: str | int | t.Type, path: str) -> int:
        """Byte offset of a (nested) member; bitfields give the byte that holds their first bit."""
        return self.member(x, path, follow_pointers=False).offset

    # ----------------------------------------------------------------- tracing helpers
    def tracepoint_record(self, name: str) -> t.Struct:
        """``struct trace_event_raw_<event>`` (or of its event class) for a tracepoint.

        ``name`` is "group:event" or "event". When the event shares its class with others,
        the tracefs format of the event (read when tracefs is available) picks the struct.
        """
        from pybpf.btf.rawtp import tracepoint_record

        try:
            return tracepoint_record(self, name)
        except BTFNotFoundError:
            raise
        except BTFError:
            from pybpf.btf.tracefs import tracepoint_format

            group, _, event = name.rpartition(":")
            fmt = tracepoint_format(group or "*", event)
            return tracepoint_record(self, event, [f.name for f in fmt.fields])


def _file_kind(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return what
    return "not a regular file"


def _check_file(st: os.stat_result) -> str | None:
    """Why a file with this status is not read as BTF, or ``None``."""
    if not stat.S_ISREG(st.st_mode):
        return f"is {_file_kind(st.st_mode)}, not a regular file"
    if st.st_size > MAX_FILE_SIZE:
        return _too_large(f"{st.st_size / (1 << 20):.0f} MiB")
    return None


def _too_large(size: str) -> str:
    return (f"is {size}, too large for BTF (the limit is {MAX_FILE_SIZE >> 20} MiB; "
            "kernel BTF is a few MB)")


def _map_file(path: str) -> bytes | mmap.mmap:
    """The content of a regular file of at most MAX_FILE_SIZE bytes, mapped (or read)."""
    try:
        # Checked before opening: opening a FIFO waits for a writer, a device may act on it.
        why = _check_file(os.stat(path))
        if why is not None:
            raise BTFFileError(path, why)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        raise BTFFileError(path, f"cannot open it: {e.strerror}", e.errno) from None
    try:
        st = os.fstat(fd)
        why = _check_file(st)  # again: the name may have been pointed elsewhere meanwhile
        if why is not None:
            raise BTFFileError(path, why)
        if st.st_size:
            try:
                return mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
            except (OSError, ValueError):  # a file system without mmap: read it instead
                pass
        # st_size may be 0 for generated files (procfs): read, but never more than the limit.
        chunks: list[bytes] = []
        left = MAX_FILE_SIZE + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            left -= len(chunk)
        raise BTFFileError(path, _too_large("larger than that"))
    except OSError as e:
        raise BTFFileError(path, f"cannot read it: {e.strerror}", e.errno) from None
    finally:
        os.close(fd)


class _PointerTo(t.Type):
    """A pointer made up for a name like ``"struct sock *"`` that BTF has no record of."""

    __slots__ = ("target",)
    kind = "ptr"

    def __init__(self, btf: BTF, target: t.Type) -> None:
        super().__init__(btf, -1, "")
        self.target = target


def _split_prefix(name: str, kind: str | None) -> tuple[str, str | None]:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            word = prefix.strip()
            if kind is not None and kind != word:
                raise ValueError(f"{name!r} does not name a {kind}")
            return name[len(prefix) :].strip(), word
    return name, kind
