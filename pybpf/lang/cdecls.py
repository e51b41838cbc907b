"""C struct and union declarations in scripts, as bpftrace takes them before the probes:

    struct point { int x; int y; char name[16]; struct point *next; };

laid out as a C compiler lays them out (natural alignment) and encoded as split BTF on top
of the kernel's, so that casts, `->` fields and sizeof treat them exactly like kernel types.
A declared name wins over the kernel's type of the same name, as in bpftrace. Members may be
integers (C, kernel and bpftrace names), pointers, arrays, and structs declared earlier in
the script or present in the kernel's BTF; bitfields are refused with a positioned error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler.errors import Loc
from pybpf.lang.errors import LangError

# integer type words -> (size, signed); the words of C ("unsigned long"), the kernel's
# (u32, __s64) and bpftrace's (uint8)
_C_WORDS = {
    ("char",): (1, True), ("signed", "char"): (1, True), ("unsigned", "char"): (1, False),
    ("short",): (2, True), ("short", "int"): (2, True), ("unsigned", "short"): (2, False),
    ("unsigned", "short", "int"): (2, False), ("int",): (4, True), ("signed",): (4, True),
    ("signed", "int"): (4, True), ("unsigned",): (4, False), ("unsigned", "int"): (4, False),
    ("long",): (8, True), ("long", "int"): (8, True), ("unsigned", "long"): (8, False),
    ("unsigned", "long", "int"): (8, False), ("long", "long"): (8, True),
    ("long", "long", "int"): (8, True), ("unsigned", "long", "long"): (8, False),
    ("unsigned", "long", "long", "int"): (8, False), ("bool",): (1, False),
    ("_Bool",): (1, False),
}
for _b in (8, 16, 32, 64):
    for _name, _signed in ((f"u{_b}", False), (f"s{_b}", True), (f"__u{_b}", False),
                           (f"__s{_b}", True), (f"uint{_b}", False), (f"int{_b}", True),
                           (f"uint{_b}_t", False), (f"int{_b}_t", True)):
        _C_WORDS[(_name,)] = (_b // 8, _signed)
_QUALIFIERS = {"const", "volatile", "restrict", "__user", "__rcu"}


@dataclass
class MemberDecl:
    type_words: tuple[str, ...]  # ("unsigned", "int"), ("struct", "path")
    stars: int
    name: str
    dims: tuple[int, ...]
    loc: Loc


@dataclass
class StructDecl:
    kind: str  # "struct" or "union"
    name: str
    members: list[MemberDecl] = field(default_factory=list)
    loc: Loc | None = None

    @property
    def full_name(self) -> str:
        return f"{self.kind} {self.name}"


def c_int(words: tuple[str, ...]) -> tuple[int, bool] | None:
    """(size, signed) of a C integer type's words ("unsigned long", "u32"), else None."""
    return _C_WORDS.get(tuple(w for w in words if w not in _QUALIFIERS))


def build(decls: list[StructDecl], base: Any, enum_types: set[str] | frozenset[str] = frozenset(),
          typedefs: dict[str, tuple[tuple[str, ...], int]] | None = None) -> Any:
    """The split BTF (on `base`) holding the declared types; LangError at the member that
    cannot be laid out. A member of a script's enum type (`enum_types`) is an int, as in C; a
    member of a script's typedef (`typedefs`: name -> its words and pointer depth) has the
    type the typedef stands for."""
    from pybpf.btf import BTF
    from pybpf.btf.writer import BTFBuilder

    b = BTFBuilder(base)
    ids: dict[str, int] = {}  # "struct point" -> its (reserved) id
    sizes: dict[str, tuple[int, int]] = {}  # declared so far: (size, alignment)
    for d in decls:
        if d.full_name in ids:
            raise LangError(f"{d.full_name} is declared twice", d.loc or Loc("", 0, 0))
        ids[d.full_name] = b.reserve()
    ints: dict[tuple[int, bool], int] = {}

    def int_id(size: int, signed: bool) -> int:
        if (size, signed) not in ints:
            name = f"{'' if signed else 'unsigned '}{ {1: 'char', 2: 'short', 4: 'int'}.get(size, 'long')}"
            ints[(size, signed)] = b.add_int(name, size, signed=signed, char=size == 1 and signed)
        return ints[(size, signed)]

    def base_type(m: MemberDecl) -> tuple[int, int, int]:
        """(type id, size, alignment) of the member's type words."""
        words = tuple(w for w in m.type_words if w not in _QUALIFIERS)
        if words in _C_WORDS:
            size, signed = _C_WORDS[words]
            return int_id(size, signed), size, size
        if len(words) == 2 and words[0] == "enum" and words[1] in enum_types:
            return int_id(4, True), 4, 4
        if len(words) == 2 and words[0] in ("struct", "union", "enum"):
            name = " ".join(words)
            if name in ids:
                if name not in sizes:  # only a pointer may name a struct not laid out yet
                    return ids[name], 0, 8
                return ids[name], *sizes[name]
            return _kernel(base, name, m)
        if len(words) == 1:
            return _kernel(base, words[0], m)  # a kernel typedef: pid_t, atomic_t, ...
        raise LangError(f"unknown type {' '.join(words)!r} of member {m.name!r}", m.loc)

    for d in decls:
        members: list[tuple[str, int, int]] = []
        offset = size = 0
        align = 1
        for m in d.members:
            if len(m.type_words) == 1 and typedefs and m.type_words[0] in typedefs:
                words, stars = typedefs[m.type_words[0]]
                m = MemberDecl(words, m.stars + stars, m.name, m.dims, m.loc)
            tid, msize, malign = base_type(m)
            if m.stars:
                for _ in range(m.stars):
                    tid = b.add_ptr(tid)
                msize = malign = 8
            elif not msize:
                raise LangError(f"member {m.name!r} of {d.full_name} is a struct whose size "
                                "is not known here (declare it first, or use a pointer)", m.loc)
            for n in reversed(m.dims):
                tid = b.add_array(tid, int_id(4, False), n)
                msize *= n
            start = 0 if d.kind == "union" else (offset + malign - 1) // malign * malign
            members.append((m.name, tid, start * 8))
            offset = start + msize
            size = max(size, offset)
            align = max(align, malign)
        size = (size + align - 1) // align * align
        sizes[d.full_name] = (size, align)
        rec = (b.add_union if d.kind == "union" else b.add_struct)(d.name, size, members)
        b.define(ids[d.full_name], rec)
    return BTF.from_bytes(b.encode(), base=base, name="script")


def _kernel(base: Any, name: str, m: MemberDecl) -> tuple[int, int, int]:
    from pybpf.btf import BTFError

    try:
        t = base.find(name)
        return t.id, base.sizeof(t), _alignment(t)
    except (BTFError, KeyError):
        raise LangError(f"unknown type {name!r} of member {m.name!r}: neither declared "
                        "before it in the script nor in the kernel's BTF", m.loc) from None


def _alignment(t: Any, depth: int = 0) -> int:
    t = t.resolve()
    kind = getattr(t, "kind", "")
    if kind == "ptr" or depth > 16:
        return 8
    if kind == "array":
        return _alignment(t.elem, depth + 1)
    if kind in ("struct", "union"):
        return max((_alignment(m.type, depth + 1) for m in t.members), default=1)
    return max(1, min(8, getattr(t, "size", 8) or 8))
