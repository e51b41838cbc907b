"""Resolve member paths like ``"real_parent.tgid"`` or ``"sk->__sk_common.skc_family"``.

A path is names joined by ``.`` or ``->``, each optionally followed by ``[N]`` indexes. Names
are looked up through anonymous struct/union members. Crossing a pointer (when allowed)
starts a new segment: ``chain`` lists the byte offsets of the pointers that are loaded on the
way, and ``offset`` is the offset of the final member inside the last object reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf.btf.errors import BTFError, BTFNotFoundError
from pybpf.btf.types import Array, Composite, Fwd, Member, Ptr, Type

if TYPE_CHECKING:
    from pybpf.btf.btf import BTF



class MemberPath:
    """Where a member path leads: its ``type``, offsets, and the pointer loads on the way."""

    __slots__ = ("path", "member", "type", "bit_offset", "bitfield_size", "chain")

    def __init__(
        self, path: str, member: Member | None, type: Type, bit_offset: int, bitfield_size: int, chain: tuple[int, ...]
    ) -> None:
        self.path = path
        self.member = member
        self.type = type
        self.bit_offset = bit_offset
        self.bitfield_size = bitfield_size
        self.chain = chain

    @property
    def offset(self) -> int:
        """Byte offset inside the last object reached (the root when ``chain`` is empty)."""
        return self.bit_offset // 8

    @property
    def name(self) -> str:
        return self.member.name if self.member else ""

    @property
    def size(self) -> int:
        return self.type.size

    @property
    def through_pointers(self) -> bool:
        return bool(self.chain)

    def __repr__(self) -> str:
        chain = f" via pointers at {list(self.chain)}" if self.chain else ""
        bits = f" bits {self.bit_offset}+{self.bitfield_size}" if self.bitfield_size else ""
        return f"<MemberPath {self.path!r}: {self.type} @ offset {self.offset}{bits}{chain}>"


def split_path(path: str) -> list[tuple[str, list[int]]]:
    """``"a.b[2]->c"`` -> ``[("a", []), ("b", [2]), ("c", [])]``."""
    out: list[tuple[str, list[int]]] = []
    for part in path.replace("->", ".").split("."):
        name, _, rest = part.partition("[")
        name = name.strip()
        indexes: list[int] = []
        ok = (name.isidentifier() or (not name and rest)) and name.isascii()
        if rest:
            for item in ("[" + rest).split("]")[:-1]:
                item = item.strip()
                if not item.startswith("[") or not item[1:].strip().isdigit():
                    ok = False
                    break
                indexes.append(int(item[1:]))
            ok = ok and ("[" + rest).rstrip().endswith("]")
        if not ok:
            raise BTFError(f"bad member path {path!r}: cannot read {part!r}")
        out.append((name, indexes))
    return out


def resolve(btf: BTF, root: Type, path: str, follow_pointers: bool = True) -> MemberPath:
    """Follow ``path`` from ``root`` (see the module docstring)."""
    cur: Type = root
    bit = 0
    chain: list[int] = []
    member: Member | None = None
    bitfield = 0
    walked = f"({root})"
    for name, indexes in split_path(path):
        if name:
            target, crossed = _deref(cur, walked, follow_pointers, chain, bit, path)
            if crossed:
                bit = 0
            if isinstance(target, Fwd):
                raise BTFError(f"{walked} is {target}, which is only declared (no members known)")
            if not isinstance(target, Composite):
                raise BTFError(f"{walked} is {cur}, not a struct or union: cannot take member {name!r}")
            try:
                member = target.member(name)
            except BTFNotFoundError as e:
                where = str(target) if walked == f"({root})" else f"{walked} ({target})"
                raise BTFNotFoundError(f"{where} has no member {name!r}",
                                       lambda e=e: e.suggestions) from None
            bit += member.bit_offset
            bitfield = member.bitfield_size
            cur = member.type
            walked = f"{walked}.{name}"
        for n in indexes:
            r = cur.resolve()
            if isinstance(r, Array):
                if r.nelems and not 0 <= n < r.nelems:
                    raise BTFError(f"index {n} is out of range for {walked} ({r}, {r.nelems} elements)")
                bit += n * btf.sizeof(r.elem) * 8
                cur = r.elem
            elif isinstance(r, Ptr):
                if not follow_pointers:
                    raise BTFError(f"{walked} is a pointer ({cur}); indexing it needs follow_pointers=True")
                chain.append(bit // 8)
                bit = n * btf.sizeof(r.target) * 8
                cur = r.target
            else:
                raise BTFError(f"{walked} is {cur}, not an array or pointer: cannot index it")
            bitfield = 0
            walked = f"{walked}[{n}]"
    return MemberPath(path, member, cur, bit, bitfield, tuple(chain))


def _deref(cur: Type, walked: str, follow: bool, chain: list[int], bit: int, path: str) -> tuple[Type, bool]:
    r = cur.resolve()
    if isinstance(r, Ptr):
        if not follow:
            raise BTFError(
                f"member path {path!r} goes through the pointer {walked} ({cur}); "
                "pass follow_pointers=True to follow it"
            )
        chain.append(bit // 8)
        return r.target.resolve(), True
    return r, False
