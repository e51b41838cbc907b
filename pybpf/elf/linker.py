"""Building one loadable program from its function in the object: the function's
instructions, the subprograms it calls appended after it (bpf-to-bpf calls and callback
addresses fixed up), map and global data references recorded for the loader, CO-RE
relocations applied, and BTF.ext function and line info carried over to the new positions.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from pybpf.elf import insns as I
from pybpf.elf.btfext import BTFExt
from pybpf.elf.core import CoreError, CoreKind, Resolution
from pybpf.elf.errors import ElfError
from pybpf.elf.ksyms import POISON_KFUNC_BASE, KsymDecl, KsymError, KsymValue
from pybpf.elf.reader import R_BPF_64_64, ElfObject, Reloc, Section, Symbol


class BadReference(Exception):
    """The symbol of an ld_imm64 names a map or global data section, but not a place in it."""


@dataclass(frozen=True, slots=True)
class MapRef:
    slot: int  # ld_imm64 slot in the linked program
    map_key: str  # the MapSpec name (global data: its section name)
    value_offset: int | None  # None: the map's fd; else an address inside the value


@dataclass(frozen=True, slots=True)
class CoreFailure:
    slot: int
    description: str
    reason: str


@dataclass
class Linked:
    code: bytearray
    map_refs: list[MapRef] = field(default_factory=list)
    func_info: bytes = b""
    line_info: bytes = b""
    core_failures: list[CoreFailure] = field(default_factory=list)
    sections: list[tuple[int, str, int, int]] = field(default_factory=list)  # out, sec, at, n


@dataclass(frozen=True, slots=True)
class Segment:
    out: int  # first slot in the linked program
    section: Section
    start: int  # first slot in the section
    count: int


# A resolver maps a CO-RE relocation to its values: (type_id, access string, kind).
CoreResolver = Callable[[int, str, int], Resolution]
# A ksym resolver gives the declaration and the kernel's value of a `__ksym` extern by
# name; None when the object declares no such extern.
KsymResolver = Callable[[str], tuple[KsymDecl, KsymValue] | None]
# A map locator names the map an ld_imm64 symbol refers to: (symbol, addend) -> (key, offset);
# None when the symbol is no map or variable, BadReference when the place is outside it.
MapLocator = Callable[[Symbol, int], tuple[str, int | None] | None]


class Linker:
    def __init__(self, path: str, elf: ElfObject, ext: BTFExt | None,
                 locate_map: MapLocator, resolve_core: CoreResolver | None,
                 describe_core: Callable[[int, str, int], str],
                 string: Callable[[int], str],
                 resolve_ksym: KsymResolver | None = None) -> None:
        self.path, self.elf, self.ext = path, elf, ext
        self.resolve_ksym = resolve_ksym
        self.locate_map, self.resolve_core = locate_map, resolve_core
        self.describe_core, self.string = describe_core, string
        self._relocs: dict[int, dict[int, Reloc]] = {}
        self._funcs: dict[int, list[Symbol]] = {}

    def relocs(self, sec: Section) -> dict[int, Reloc]:
        found = self._relocs.get(sec.index)
        if found is None:
            found = self._relocs[sec.index] = {r.offset // 8: r for r in sec.relocs}
        return found

    def function_at(self, sec: Section, slot: int) -> tuple[int, int]:
        """(first slot, slot count) of the function of `sec` that contains `slot`."""
        funcs = self._funcs.get(sec.index)
        if funcs is None:  # once per section: a program may make many calls
            funcs = self._funcs[sec.index] = self.elf.symbols_in(sec.index, ("STT_FUNC",))
        for s in funcs:
            if s.value // 8 <= slot < (s.value + max(s.size, 8)) // 8:
                return s.value // 8, max(s.size, 8) // 8
        raise ElfError(self.path, f"no function contains instruction {slot}", sec.name)

    def link(self, sec: Section, start: int, count: int) -> Linked:
        out = Linked(bytearray(sec.data[start * 8:(start + count) * 8]))
        segments = [Segment(0, sec, start, count)]
        placed = {(sec.index, start): 0}
        todo = [segments[0]]
        while todo:
            seg = todo.pop(0)
            self._apply_data_relocs(out, seg)
            i = 0
            while i < seg.count:  # one step per instruction: ld_imm64 takes two slots
                at = seg.out + i
                code, _, src, _, _ = I.get(out.code, at)
                wide = code == I.LD_IMM64
                if wide and i + 1 >= seg.count:
                    raise ElfError(self.path, f"the ld_imm64 instruction {seg.start + i} is "
                                              "cut off by the end of its function",
                                   seg.section.name)
                self._link_insn(out, seg, i, code, src, placed, segments, todo)
                i += 2 if wide else 1
        for seg in segments:
            self._apply_core(out, seg)
        out.func_info, out.line_info = self._infos(segments)
        out.sections = [(s.out, s.section.name, s.start, s.count) for s in segments]
        return out

    def _link_insn(self, out: Linked, seg: Segment, i: int, code: int, src: int,
                   placed: dict[tuple[int, int], int], segments: list[Segment],
                   todo: list[Segment]) -> None:
        """Point a bpf-to-bpf call or function address at its target, appending the target's
        function to the program the first time."""
        at = seg.out + i
        is_call = code == I.CALL and src == I.PSEUDO_CALL
        is_func = code == I.LD_IMM64 and src == I.PSEUDO_FUNC
        reloc = self.relocs(seg.section).get(seg.start + i)
        if reloc is not None and code == I.CALL and reloc.symbol.shndx == 0:
            self._link_kfunc(out, seg, at, reloc.symbol)
            return
        if reloc is not None and self._is_code(reloc.symbol):
            # validate.check: a call relocated against code is a BPF_PSEUDO_CALL
            is_call, is_func = code == I.CALL, code == I.LD_IMM64
        if not (is_call or is_func):
            return
        tsec, tslot = self._call_target(out.code, at, seg, reloc, is_func)
        fstart, fcount = self.function_at(tsec, tslot)
        key = (tsec.index, fstart)
        if key not in placed:
            new = Segment(len(out.code) // 8, tsec, fstart, fcount)
            placed[key] = new.out
            out.code += tsec.data[fstart * 8:(fstart + fcount) * 8]
            segments.append(new)
            todo.append(new)
        target = placed[key] + tslot - fstart
        I.set_src(out.code, at, I.PSEUDO_FUNC if is_func else I.PSEUDO_CALL)
        I.set_imm(out.code, at, target - at - 1)

    def _ksym(self, sym: Symbol, seg: Segment, where: str) -> tuple[KsymDecl, KsymValue] | None:
        if self.resolve_ksym is None:
            return None
        try:
            return self.resolve_ksym(sym.name)
        except KsymError as e:
            raise ElfError(self.path, f"{where}: {e}", seg.section.name) from None

    def _link_kfunc(self, out: Linked, seg: Segment, at: int, sym: Symbol) -> None:
        """A call to a kernel function: BPF_PSEUDO_KFUNC_CALL with the kernel's BTF id of it;
        a missing __weak one becomes libbpf's poisoned call (rejected only if reachable)."""
        where = f"call at instruction {seg.start + at - seg.out}"
        found = self._ksym(sym, seg, where)
        if found is None or found[0].kind != "kfunc":
            raise ElfError(self.path, f"{where}: '{sym.name}' is not a BPF function of this "
                                      "object nor a kernel function declared `extern ... "
                                      "__ksym`", seg.section.name)
        decl, value = found
        if value.found:
            I.put(out.code, at, I.CALL, 0, I.PSEUDO_KFUNC_CALL, 0, value.btf_id)
        else:
            I.put(out.code, at, I.CALL, 0, 0, 0, POISON_KFUNC_BASE + decl.index)
            out.core_failures.append(CoreFailure(
                at, f"call to kfunc {decl.name}", "the kernel has no such function (a "
                "__weak kfunc: guard its calls with bpf_ksym_exists())"))

    def _link_ksym_load(self, out: Linked, seg: Segment, at: int, sym: Symbol,
                        where: str) -> bool:
        """An ld_imm64 of a `__ksym` extern's address: typed ones (and kfuncs) by kernel BTF
        id (BPF_PSEUDO_BTF_ID), untyped ones by their kallsyms address, a missing __weak
        one as 0. False when the symbol is no `__ksym` extern."""
        found = self._ksym(sym, seg, where)
        if found is None:
            return False
        decl, value = found
        code, dst, _, off, _ = I.get(out.code, at)
        if value.found and decl.kind != "untyped":
            I.put(out.code, at, code, dst, I.PSEUDO_BTF_ID, off, value.btf_id)
            hi = 0  # the BTF object's fd: 0 is vmlinux
        else:
            I.put(out.code, at, code, dst, 0, off, value.addr & 0xFFFFFFFF)
            hi = value.addr >> 32
        c2, d2, s2, o2, _ = I.get(out.code, at + 1)
        I.put(out.code, at + 1, c2, d2, s2, o2, hi)
        return True

    def _is_code(self, sym: Symbol) -> bool:
        sec = self.elf.sections.get(sym.shndx)
        return sym.shndx != 0 and sec is not None and sec.executable

    def _call_target(self, code: bytearray, at: int, seg: Segment, reloc: Reloc | None,
                     is_func: bool) -> tuple[Section, int]:
        _, _, _, _, imm = I.get(code, at)
        if reloc is None:  # a call inside the same section, already relative
            return seg.section, seg.start + (at - seg.out) + imm + 1
        sym = reloc.symbol
        tsec = self.elf.sections.get(sym.shndx)
        if tsec is None or not tsec.executable:
            raise ElfError(self.path, f"call to '{sym.name}', which is not a BPF function "
                                      "of this object", seg.section.name)
        # libbpf's arithmetic (bpf_object__reloc_code): a function address is the symbol
        # plus the byte addend; a call's imm counts instructions from the next one
        if is_func:
            return tsec, (sym.value + imm) // 8
        return tsec, sym.value // 8 + imm + 1

    def _apply_data_relocs(self, out: Linked, seg: Segment) -> None:
        for slot, reloc in self.relocs(seg.section).items():
            if not seg.start <= slot < seg.start + seg.count:
                continue
            at = seg.out + slot - seg.start
            sym = reloc.symbol
            if self._is_code(sym) or sym.shndx == 0 and I.is_call(out.code, at):
                continue  # calls (kfunc calls too) and function addresses: done by link()
            where = f"relocation at offset {slot * 8:#x} (instruction {slot})"
            if reloc.type != R_BPF_64_64 or not I.is_ld_imm64(out.code, at):
                # validate.check refuses these when the object is opened
                raise ElfError(self.path, f"{where}: unsupported relocation type {reloc.type} "
                                          f"against '{sym.name}'", seg.section.name)
            _, _, _, _, imm = I.get(out.code, at)
            try:
                found = self.locate_map(sym, imm)
            except BadReference as e:
                raise ElfError(self.path, f"{where} against '{sym.name}': {e}",
                               seg.section.name) from None
            if found is None and sym.shndx == 0 \
                    and self._link_ksym_load(out, seg, at, sym, where):
                continue
            if found is None:
                what = "extern" if sym.shndx == 0 else "symbol"
                raise ElfError(self.path, f"{where} refers to {what} '{sym.name}', which is "
                                          "not a map, global variable, .kconfig or __ksym "
                                          "extern",
                               seg.section.name)
            out.map_refs.append(MapRef(at, found[0], found[1]))

    def _apply_core(self, out: Linked, seg: Segment) -> None:
        if self.ext is None or self.resolve_core is None:
            return
        for r in self.ext.core_relos.get(seg.section.name, ()):
            slot = r.insn_off // 8
            if not seg.start <= slot < seg.start + seg.count:
                continue
            at = seg.out + slot - seg.start
            access = self.string(r.access_str_off)
            try:
                res = self.resolve_core(r.type_id, access, r.kind)
                I.patch_core(out.code, at, CoreKind(r.kind), res)
            except (CoreError, I.PatchError) as e:
                desc = self.describe_core(r.type_id, access, r.kind)
                raise ElfError(self.path, f"CO-RE relocation at instruction {slot} "
                                          f"({desc}): {e}", seg.section.name) from None
            if res.poison:
                out.core_failures.append(CoreFailure(
                    at, self.describe_core(r.type_id, access, r.kind), res.reason))

    def _infos(self, segments: list[Segment]) -> tuple[bytes, bytes]:
        if self.ext is None:
            return b"", b""
        funcs, lines = [], []
        for seg in segments:
            lo, hi = seg.start, seg.start + seg.count
            for f in self.ext.func_info.get(seg.section.name, ()):
                if lo <= f.insn_off // 8 < hi:
                    funcs.append((seg.out + f.insn_off // 8 - lo, f.type_id))
            for li in self.ext.line_info.get(seg.section.name, ()):
                if lo <= li.insn_off // 8 < hi:
                    lines.append((seg.out + li.insn_off // 8 - lo, li.file_name_off,
                                  li.line_off, li.line_col))
        funcs.sort()
        lines.sort(key=lambda x: x[0])
        return (b"".join(struct.pack("<II", *f) for f in funcs),
                b"".join(struct.pack("<IIII", *li) for li in lines))
