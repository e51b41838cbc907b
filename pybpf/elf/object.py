"""`Object`: a clang-built `.bpf.o` opened, loaded and attached without libbpf.

    obj = Object.open("prog.bpf.o")
    obj.rodata.target_pid = 42          # .rodata options, before load
    obj.load()                          # BTF, maps, relocations, CO-RE, programs
    obj.attach_all()                    # by section name
    for pid, n in obj.maps.counts.items(): ...
    obj.close()
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import Any, Self

from pybpf.btf import BTF, BTFError
from pybpf.elf import btfext, btfpatch, kconfig, ksyms, mapspec, reader, sections
from pybpf.elf.errors import ElfError
from pybpf.elf.globaldata import GlobalData
from pybpf.elf.linker import BadReference
from pybpf.elf.mapspec import MapSpec
from pybpf.elf.objprog import ObjectProgram
from pybpf.elf.reader import Symbol

#: what reading a damaged object can raise, reported as an ElfError naming the file
MALFORMED = (ValueError, IndexError, KeyError, OverflowError, MemoryError, AssertionError,
             AttributeError, TypeError, struct.error, BTFError)


class Namespace(dict):
    """A dict whose keys are also attributes (`obj.maps.counts`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self) or "none"
            raise AttributeError(f"no {name!r} here (known: {known})") from None


def _alias(section: str) -> str:
    """`.rodata` -> `rodata`, `.rodata.str1.1` -> `rodata_str1_1`."""
    return section.lstrip(".").replace(".", "_")


class Object:
    """The maps, programs and global data of one BPF object file."""

    def __init__(self, path: str, elf: reader.ElfObject, *,
                 target_btf: BTF | None = None) -> None:
        self.path = path
        self.name = os.path.basename(path).removesuffix(".o").removesuffix(".bpf")
        self._elf = elf
        self._target_btf = target_btf
        self.license = self._license()
        self.kern_version = self._version()
        self.btf: BTF | None = None  # the object's BTF (after DATASEC fix-ups)
        self.btf_bytes = b""
        self.btf_fd: Any = None
        self.btf_load_error: str | None = None
        self.ext: btfext.BTFExt | None = None
        self._read_btf()
        self.map_specs: dict[str, MapSpec] = {}
        for spec in (mapspec.btf_maps(path, elf, self.btf) + mapspec.legacy_maps(path, elf)
                     + mapspec.data_maps(elf, self.btf) + self._kconfig_specs()):
            if spec.name in self.map_specs:
                # one of the two would be dropped, and its references found no map
                raise ElfError(path, f"map '{spec.name}' is defined twice (also in section "
                                     f"'{self.map_specs[spec.name].section}')", spec.section)
            mapspec.check_sizes(path, spec)
            self.map_specs[spec.name] = spec
        self.maps = Namespace(self.map_specs)
        self.globals: dict[str, GlobalData] = {}
        for spec in self.map_specs.values():
            if spec.kind in ("data", "kconfig"):
                view = GlobalData(spec, self.btf, self._section_symbols(spec))
                self.globals[spec.section] = view
                if _alias(spec.section) not in self.map_specs:
                    # a map named like the alias (`bss`) keeps its name: the alias is only
                    # a convenience, and the loader resolves references by spec name
                    self.maps[_alias(spec.section)] = spec
        self.programs = Namespace({p.name: p for p in self._find_programs()})
        self._created: list[Any] = []
        self._live: dict[str, Any] = {}  # created maps by MapSpec name (not alias)
        self.loaded = False

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, data: bytes | None = None,
             target_btf: BTF | None = None) -> Object:
        """Read and check an object file. `target_btf` replaces the running kernel's BTF
        for CO-RE (for tests)."""
        p = os.fspath(path)
        try:
            return cls(p, reader.read(p, data), target_btf=target_btf)
        except ElfError:
            raise
        except MALFORMED as e:  # inconsistent offsets, sizes or ids in a damaged file
            raise ElfError(p, f"malformed object ({type(e).__name__}: {e})") from None

    def _license(self) -> str:
        sec = self._elf.section("license")
        if sec is None:
            return ""
        return sec.data.split(b"\0", 1)[0].decode(errors="replace")

    def _version(self) -> int:
        sec = self._elf.section("version")
        return struct.unpack_from("<I", sec.data)[0] if sec is not None and sec.size >= 4 else 0

    def _read_btf(self) -> None:
        sec = self._elf.section(".BTF")
        if sec is None:
            if self._elf.section(".BTF.ext") is not None:
                raise ElfError(self.path, "has .BTF.ext but no .BTF", ".BTF.ext")
            return
        try:
            original = BTF.from_bytes(sec.data, name=os.path.basename(self.path))
            raw = btfpatch.RawBTF(sec.data)
        except MALFORMED as e:
            raise ElfError(self.path, f"malformed BTF: {e}", ".BTF") from None
        weak = {s.name: s.bind == "STB_WEAK" for s in self._elf.symbols if s.shndx == 0}
        self._kconfig, self._kconfig_size = kconfig.layout(original, weak)
        self._ksyms = ksyms.declared(original, weak, len(self._kconfig))
        kc_off = {v.name: v.offset for v in self._kconfig}

        def section_size(name: str) -> int | None:
            if name == mapspec.KCONFIG:
                return self._kconfig_size
            s = self._elf.section(name)
            return s.size if s is not None else None

        by_section: dict[str, dict[str, int]] = {}

        def var_offset(sec_name: str, var: str) -> int | None:
            if sec_name == mapspec.KCONFIG:
                return kc_off.get(var)
            found = by_section.get(sec_name)
            if found is None:  # once per section, not once per variable
                s = self._elf.section(sec_name)
                found = by_section[sec_name] = {} if s is None else {
                    sym.name: sym.value for sym in reversed(self._elf.symbols_in(s.index))}
            return found.get(var)

        btfpatch.fix_datasecs(raw, section_size, var_offset)
        self.btf_bytes = raw.bytes()
        self.btf = BTF.from_bytes(self.btf_bytes, name=os.path.basename(self.path))
        ext = self._elf.section(".BTF.ext")
        if ext is not None:
            self.ext = btfext.parse(self.path, ext.data, self.btf.string)

    _kconfig: list[kconfig.KconfigVar] = []
    _kconfig_size = 0
    _ksyms: dict[str, ksyms.KsymDecl] = {}  # `__ksym` externs by name

    def _kconfig_specs(self) -> list[MapSpec]:
        if not self._kconfig:
            return []
        if self._kconfig_size > mapspec.U32_MAX:  # before bytes() below allocates it
            raise ElfError(self.path, f"{self._kconfig_size} bytes of externs do not fit in "
                                      "one map value (at most 4 GiB)", mapspec.KCONFIG)
        value_type = 0
        if self.btf is not None:
            try:
                value_type = self.btf.find(mapspec.KCONFIG, "datasec").id
            except KeyError:
                pass
        from pybpf.sys import MapType
        from pybpf.sys import constants as C

        return [MapSpec(mapspec.KCONFIG, MapType.ARRAY, 4, self._kconfig_size, 1,
                        C.BPF_F_RDONLY_PROG, section=mapspec.KCONFIG,
                        value_type_id=value_type, initial=bytes(self._kconfig_size),
                        kind="kconfig")]

    def _section_symbols(self, spec: MapSpec) -> dict[str, tuple[int, int]]:
        if spec.kind == "kconfig":
            return {v.name: (v.offset, v.size) for v in self._kconfig}
        return {s.name: (s.value, s.size) for s in self._elf.symbols_in(spec.shndx)
                if s.type == "STT_OBJECT"}

    def _find_programs(self) -> Iterator[ObjectProgram]:
        for sec in self._elf.sections.values():
            if not sec.executable or sec.name == ".text" or not sec.size:
                continue
            sdef = sections.lookup(sec.name)
            if sdef is None:
                known = ", ".join(sections.known_prefixes())
                raise ElfError(self.path, "unknown program section: the section name "
                                          f"tells the program type; known: {known}", sec.name)
            funcs = [s for s in self._elf.symbols_in(sec.index, ("STT_FUNC",))
                     if s.bind in ("STB_GLOBAL", "STB_WEAK")]
            if not funcs:
                yield ObjectProgram(_alias(sec.name), sdef, sec.index, 0, sec.size // 8)
            for f in funcs:
                yield ObjectProgram(f.name, sdef, sec.index, f.value // 8, f.size // 8)

    # -- views ----------------------------------------------------------------------------
    @property
    def rodata(self) -> GlobalData:
        return self._global(".rodata")

    @property
    def data(self) -> GlobalData:
        return self._global(".data")

    @property
    def bss(self) -> GlobalData:
        return self._global(".bss")

    @property
    def kconfig(self) -> GlobalData:
        return self._global(mapspec.KCONFIG)

    def _global(self, section: str) -> GlobalData:
        try:
            return self.globals[section]
        except KeyError:
            raise AttributeError(f"{self.path} has no {section} section") from None

    def set(self, name: str, value: Any) -> None:
        """Set a global variable by name before load (.rodata first, then .data/.bss)."""
        for sec in sorted(self.globals, key=lambda s: (not s.startswith(".rodata"), s)):
            view = self.globals[sec]
            if name in view and sec != mapspec.KCONFIG:
                view[name] = value
                return
        known = sorted(n for s, v in self.globals.items() if s != mapspec.KCONFIG for n in v)
        raise KeyError(f"{self.path}: no global variable {name!r} (known: "
                       f"{', '.join(known) or 'none'})")

    def _locate_map(self, sym: Symbol, addend: int) -> tuple[str, int | None] | None:
        """The map (and, for global data, the offset in its value) an ld_imm64 against `sym`
        plus `addend` refers to. Offsets must be inside the data (the kernel refuses the
        others, less clearly); .kconfig externs are found by name only, as the symbol's
        section index 0 says nothing about where they are."""
        if sym.shndx == reader.SHN_UNDEF:
            for v in self._kconfig:
                if v.name == sym.name:
                    if not 0 <= addend < max(v.size, 1):
                        raise BadReference(f"offset {addend} is outside the {v.size}-byte "
                                           f"extern")
                    return mapspec.KCONFIG, v.offset + addend
            return None
        if sym.special:
            return None  # SHN_ABS, SHN_COMMON: validate.check refuses these
        for spec in self.map_specs.values():
            if spec.kind == "kconfig" or spec.shndx != sym.shndx:
                continue
            if spec.kind == "data":
                off = sym.value + addend
                if not 0 <= off < spec.value_size:
                    raise BadReference(f"offset {off} is outside section '{spec.section}' "
                                       f"({spec.value_size} bytes)")
                return spec.name, off
            if spec.offset == sym.value + addend:
                return spec.name, None
        return None

    # -- loading and attaching (see pybpf.elf.loader) ---------------------------------------
    def load(self, *, skip_unsupported: bool = False, log_level: int = 0) -> Self:
        """Load BTF, create maps, relocate and load every program (autoload=True). With
        `skip_unsupported`, programs of types this kernel lacks are skipped (`.skipped`
        says why) instead of failing the load."""
        from pybpf.elf import loader

        loader.load(self, skip_unsupported=skip_unsupported, log_level=log_level)
        return self

    def attach_all(self, *, ifname: str | int | None = None, cgroup: str | None = None,
                   sock: Any = None, skip_unsupported: bool = False) -> list[Any]:
        """Attach every loaded program by its section name. Programs whose section names no
        target (xdp and tc without `ifname`, cgroup programs without `cgroup`, socket filters
        without `sock`, perf_event) are left alone, with the reason in `.skipped`."""
        from pybpf.elf import loader

        return loader.attach_all(self, ifname=ifname, cgroup=cgroup, sock=sock,
                                 skip_unsupported=skip_unsupported)

    def attach(self, program: str, **targets: Any) -> Any:
        """Attach one program by name (targets: ifname, cgroup, sock)."""
        from pybpf.elf import loader

        return loader.attach_one(self, self.programs[program], **targets)

    def close(self) -> None:
        for p in self.programs.values():
            p.close()
        for m in self._created:
            m.close()
        self._created.clear()
        self._live.clear()
        if self.btf_fd is not None:
            self.btf_fd.close()
            self.btf_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<Object {self.path!r} maps={list(self.map_specs)} "
                f"programs={list(self.programs)}>")

