"""Editing an object's raw .BTF before the kernel sees it.

clang leaves DATASEC sizes and VAR offsets at zero (the linker would fill them in) and marks
`.kconfig` externs as extern VARs, which the kernel rejects. Like libbpf, the loader fills in
sizes and offsets from the ELF sections and symbols, sorts each DATASEC's variables by offset,
and turns externs into allocated globals. For kernels without some newer kinds (probed by
loading a tiny BTF), DECL_TAG, TYPE_TAG, FLOAT and ENUM64 are rewritten into kinds every
BTF-capable kernel knows, keeping every type id (so instruction and map references stay valid).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable

from pybpf.btf import format as fmt

_VAR_GLOBAL_ALLOCATED = 1
KSYMS = ".ksyms"
_FUNC_STATIC = 0


class RawBTF:
    """A mutable raw BTF blob with the word offset of every type record."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        (_magic, _ver, _flags, self.hdr_len, self.type_off, self.type_len, self.str_off,
         self.str_len) = fmt.HEADER.unpack_from(self.data)
        if self.hdr_len + self.type_off + self.type_len > len(self.data):
            raise ValueError(f"BTF type section ({self.type_len} bytes) runs past the end "
                             f"of the data ({len(self.data)} bytes)")
        self.offsets: list[int] = [0]  # byte offset (in the type section) of each id; 0: void
        pos = 0  # each record is at least 12 bytes: the loop is bounded by type_len
        while pos < self.type_len:
            self.offsets.append(pos)
            info = self.word(pos, 1)
            kind, vlen = fmt.info_kind(info), fmt.info_vlen(info)
            if kind > fmt.KIND_MAX:
                raise ValueError(f"type id {len(self.offsets) - 1} has unknown kind {kind}")
            pos += 12 + 4 * (fmt.EXTRA_WORDS[kind] + fmt.VLEN_WORDS[kind] * vlen)

    @property
    def nr_types(self) -> int:
        return len(self.offsets)

    def _at(self, pos: int, index: int) -> int:
        return self.hdr_len + self.type_off + pos + 4 * index

    def word(self, pos: int, index: int) -> int:
        return struct.unpack_from("<I", self.data, self._at(pos, index))[0]

    def set_word(self, pos: int, index: int, value: int) -> None:
        struct.pack_into("<I", self.data, self._at(pos, index), value & 0xFFFFFFFF)

    def kind(self, tid: int) -> int:
        return fmt.info_kind(self.word(self.offsets[tid], 1)) if tid else 0

    def vlen(self, tid: int) -> int:
        return fmt.info_vlen(self.word(self.offsets[tid], 1))

    def name(self, tid: int) -> str:
        return self.string(self.word(self.offsets[tid], 0))

    def string(self, off: int) -> str:
        start = self.hdr_len + self.str_off + off
        end = self.data.index(b"\0", start)
        return self.data[start:end].decode(errors="replace")

    def append_int(self, size: int) -> int:
        """Add an unnamed unsigned INT of `size` bytes at the end; returns its id."""
        return self._append(struct.pack("<IIII", 0, fmt.KIND_INT << 24, size, size * 8))

    def append_var(self, name_off: int, type_id: int) -> int:
        """Add an allocated global VAR at the end; returns its id."""
        return self._append(struct.pack("<IIII", name_off, fmt.KIND_VAR << 24, type_id,
                                        _VAR_GLOBAL_ALLOCATED))

    def _append(self, rec: bytes) -> int:
        at = self.hdr_len + self.type_off + self.type_len
        self.data[at:at] = rec
        self.offsets.append(self.type_len)
        self.type_len += len(rec)
        if self.str_off >= self.type_off + self.type_len - len(rec):
            self.str_off += len(rec)
        struct.pack_into("<IIII", self.data, 8, self.type_off, self.type_len, self.str_off,
                         self.str_len)
        return len(self.offsets) - 1

    def bytes(self) -> bytes:
        return bytes(self.data)


def fix_datasecs(raw: RawBTF, section_size: Callable[[str], int | None],
                 var_offset: Callable[[str, str], int | None]) -> list[str]:
    """Fill in DATASEC sizes and VAR offsets, sort each DATASEC's vars by offset, make extern
    VARs allocated and extern FUNCs static. Returns the names of DATASECs left unresolved."""
    unresolved = []
    for tid in range(1, raw.nr_types):
        kind, pos = raw.kind(tid), raw.offsets[tid]
        if kind == fmt.KIND_VAR and raw.word(pos, 3) not in (0, _VAR_GLOBAL_ALLOCATED):
            raw.set_word(pos, 3, _VAR_GLOBAL_ALLOCATED)
        elif kind == fmt.KIND_FUNC and raw.vlen(tid) > 1:  # extern function (a ksym)
            raw.set_word(pos, 1, (fmt.KIND_FUNC << 24) | _FUNC_STATIC)
        if kind != fmt.KIND_DATASEC:
            continue
        name = raw.name(tid)
        if name == KSYMS:
            _fix_ksyms(raw, tid)
            continue
        size = section_size(name)
        if size is None:
            unresolved.append(name)
            continue
        raw.set_word(pos, 2, size)
        infos = []
        for i in range(raw.vlen(tid)):
            var_id, off, vsize = (raw.word(pos, 3 + 3 * i + j) for j in range(3))
            found = var_offset(name, raw.name(var_id))
            infos.append((off if found is None else found, var_id, vsize))
        infos.sort()
        for i, (off, var_id, vsize) in enumerate(infos):
            raw.set_word(pos, 3 + 3 * i, var_id)
            raw.set_word(pos, 4 + 3 * i, off)
            raw.set_word(pos, 5 + 3 * i, vsize)
    return unresolved


def _fix_ksyms(raw: RawBTF, tid: int) -> None:
    """The kernel knows no `.ksyms` section (its externs name kernel symbols, they are not
    data of the object) and no FUNC in a DATASEC. As libbpf does, every entry becomes a
    4-byte int VAR of its own (a kfunc's entry a new VAR of its name, its unnamed parameters
    given the kfunc's name), laid out one after the other, so the BTF loads with the line
    and function info."""
    pos = raw.offsets[tid]
    int4 = raw.append_int(4)
    for i in range(raw.vlen(tid)):
        var_id = raw.word(pos, 3 + 3 * i)
        if raw.kind(var_id) == fmt.KIND_VAR:
            raw.set_word(raw.offsets[var_id], 2, int4)
        else:  # a kfunc: the kernel wants every parameter of a FUNC named
            func_pos = raw.offsets[var_id]
            name_off = raw.word(func_pos, 0)
            proto = raw.word(func_pos, 2)
            if 0 < proto < raw.nr_types and raw.kind(proto) == fmt.KIND_FUNC_PROTO:
                proto_pos = raw.offsets[proto]
                for j in range(raw.vlen(proto)):
                    if raw.word(proto_pos, 3 + 2 * j) == 0 and raw.word(proto_pos, 4 + 2 * j):
                        raw.set_word(proto_pos, 3 + 2 * j, name_off)
            var_id = raw.append_var(name_off, int4)
        raw.set_word(pos, 3 + 3 * i, var_id)
        raw.set_word(pos, 4 + 3 * i, 4 * i)
        raw.set_word(pos, 5 + 3 * i, 4)
    raw.set_word(pos, 2, 4 * raw.vlen(tid))


def sanitize(raw: RawBTF, supported: Callable[[str], bool] | None = None) -> list[str]:
    """Rewrite kinds the kernel does not know; returns the kinds rewritten."""
    supported = supported or kernel_supports
    done: set[str] = set()
    int_ids: dict[int, int] = {}
    for tid in range(1, raw.nr_types):
        kind, pos = raw.kind(tid), raw.offsets[tid]
        if kind == fmt.KIND_DECL_TAG and not supported("decl_tag"):
            # same record length as an INT: a 1-byte unnamed int nobody refers to
            raw.set_word(pos, 0, 0)
            raw.set_word(pos, 1, fmt.KIND_INT << 24)
            raw.set_word(pos, 2, 1)
            raw.set_word(pos, 3, 8)
            done.add("decl_tag")
        elif kind == fmt.KIND_TYPE_TAG and not supported("type_tag"):
            raw.set_word(pos, 0, 0)
            raw.set_word(pos, 1, fmt.KIND_CONST << 24)
            done.add("type_tag")
        elif kind == fmt.KIND_FLOAT and not supported("float"):
            raw.set_word(pos, 0, 0)  # an anonymous empty struct of the same size
            raw.set_word(pos, 1, fmt.KIND_STRUCT << 24)
            done.add("float")
        elif kind == fmt.KIND_ENUM64 and not supported("enum64"):
            # a union of unnamed ints of the enum's size: 3 words per item, like ENUM64's
            size = raw.word(pos, 2)
            if size not in int_ids:
                int_ids[size] = raw.append_int(size)
                pos = raw.offsets[tid]
            vlen = raw.vlen(tid)
            raw.set_word(pos, 1, (fmt.KIND_UNION << 24) | vlen)
            for i in range(vlen):
                raw.set_word(pos, 3 + 3 * i, 0)
                raw.set_word(pos, 4 + 3 * i, int_ids[size])
                raw.set_word(pos, 5 + 3 * i, 0)
            done.add("enum64")
    return sorted(done)


@functools.cache
def kernel_supports(kind: str) -> bool:
    """Whether the running kernel loads BTF with `kind` (decl_tag, type_tag, float, enum64)."""
    from pybpf.btf.load import BTFLoadError, load_btf
    from pybpf.btf.writer import BTFBuilder
    from pybpf.sys import BPFError

    b = BTFBuilder()
    i = b.add_int("int", 4, signed=True)
    if kind == "decl_tag":
        v = b.add_var("x", i, "static")
        b.add_decl_tag("tag", v)
    elif kind == "type_tag":
        b.add_ptr(b.add_type_tag("tag", i))
    elif kind == "float":
        b.add_float("float", 4)
    elif kind == "enum64":
        b.add_enum64("e", {"A": 1 << 40})
    else:
        raise ValueError(f"unknown BTF kind to probe: {kind}")
    try:
        load_btf(b.encode()).close()
    except (BTFLoadError, BPFError):
        return False
    return True
