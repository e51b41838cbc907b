"""Object.load() and attach_all(): BTF into the kernel, maps created, programs linked,
relocated and loaded; then attached by section name. Errors name the file and section."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from pybpf.btf import BTF, BTFError
from pybpf.elf import btfpatch, core, kconfig, ksyms, objmaps
from pybpf.elf.attach import MissingTarget, attach
from pybpf.elf.errors import ElfError, TargetNeededError
from pybpf.elf.insns import POISON_HELPER
from pybpf.elf.linker import Linked, Linker
from pybpf.elf.mapspec import KCONFIG, MapSpec
from pybpf.elf.objprog import ObjectProgram
from pybpf.sys import BPFError, MapType, NotSupportedError, VerifierError

if TYPE_CHECKING:
    from pybpf.elf.object import Object
    from pybpf.link.link import Link


def load(obj: Object, *, skip_unsupported: bool = False, log_level: int = 0) -> None:
    if obj.loaded:
        raise ElfError(obj.path, "is already loaded")
    try:
        _load_btf(obj)
        _create_maps(obj)
        target = _Target(obj)
        for p in obj.programs.values():
            if p.autoload:
                _load_program(obj, p, target, skip_unsupported, log_level)
            else:
                p.skipped = "autoload is off"
    except BaseException:
        obj.close()
        raise
    obj.loaded = True


class _Target:
    """The kernel BTF, read only when a relocation or attach point needs it."""

    def __init__(self, obj: Object) -> None:
        self._btf: BTF | None = obj._target_btf
        self._cache: dict[tuple[int, str, int], core.Resolution] = {}
        self._ksyms: dict[str, ksyms.KsymValue] = {}
        self.obj = obj

    @property
    def btf(self) -> BTF:
        if self._btf is None:
            from pybpf.btf import kernel_btf

            try:
                self._btf = kernel_btf()
            except BTFError as e:
                raise ElfError(self.obj.path, f"CO-RE needs the kernel's BTF: {e}") from None
        return self._btf

    def ksym(self, name: str) -> tuple[ksyms.KsymDecl, ksyms.KsymValue] | None:
        decl = self.obj._ksyms.get(name)
        if decl is None:
            return None
        value = self._ksyms.get(name)
        if value is None:
            assert self.obj.btf is not None  # externs are declared in the object's BTF
            kernel = None if decl.kind == "untyped" else self._kernel_btf_or_none(decl)
            value = self._ksyms[name] = ksyms.resolve(decl, self.obj.btf, kernel)
        return decl, value

    def _kernel_btf_or_none(self, decl: ksyms.KsymDecl) -> BTF | None:
        try:
            return self.btf
        except ElfError:
            if decl.weak:
                return None
            raise

    def resolve(self, type_id: int, access: str, kind: int) -> core.Resolution:
        key = (type_id, access, kind)
        found = self._cache.get(key)
        if found is None:
            assert self.obj.btf is not None
            found = self._cache[key] = core.resolve(self.obj.btf, self.btf, type_id, access,
                                                    kind)
        return found


def _load_btf(obj: Object) -> None:
    if not obj.btf_bytes:
        return
    from pybpf.btf.load import BTFLoadError, load_btf

    raw = btfpatch.RawBTF(obj.btf_bytes)
    btfpatch.sanitize(raw)
    try:
        obj.btf_fd = load_btf(raw.bytes())
    except (BTFLoadError, NotSupportedError) as e:
        # like libbpf: carry on without BTF (no line info, maps without BTF types)
        obj.btf_load_error = str(e)


def _kconfig_bytes(obj: Object) -> bytes:
    data = bytearray(obj._kconfig_size)
    config = kconfig.kernel_config()
    for var in obj._kconfig:
        value = kconfig.value_of(var, config)
        if isinstance(value, str):
            raise ElfError(obj.path, value, KCONFIG)
        data[var.offset:var.offset + var.size] = value[: var.size].ljust(var.size, b"\0")
    return bytes(data)


def _create_maps(obj: Object) -> None:
    from pybpf.maps import possible_cpus

    btf_fd = obj.btf_fd.fileno() if obj.btf_fd is not None else None
    for spec in obj.map_specs.values():
        if spec.type == MapType.PERF_EVENT_ARRAY:
            spec.max_entries = spec.max_entries or possible_cpus()
            spec.key_size, spec.value_size = spec.key_size or 4, spec.value_size or 4
        if spec.kind == "kconfig":
            spec.initial = _kconfig_bytes(obj)
        name = objmaps.map_name(obj.name, spec)
        try:
            inner_fd = None
            if spec.inner is not None:
                inner_fd = objmaps.create(spec.inner, name, btf_fd)
            try:
                fd = objmaps.create(spec, name, btf_fd, inner_fd.fileno() if inner_fd else 0)
            finally:
                if inner_fd is not None:
                    inner_fd.close()
            live = objmaps.wrap(fd, spec, name, obj.btf)
            obj._created.append(live)
            if spec.initial is not None:
                objmaps.write_initial(fd, spec, spec.initial)
                if spec.readonly:
                    objmaps.freeze(fd, spec)
        except NotSupportedError as e:
            raise NotSupportedError(f"{obj.path}: section '{spec.section}': map "
                                    f"'{spec.name}': {e}", e.errno) from None
        except BPFError as e:
            raise ElfError(obj.path, f"map '{spec.name}': {e}", spec.section,
                           e.errno) from None
        obj.maps[spec.name] = live
        obj._live[spec.name] = live
        if spec.kind != "user":
            from pybpf.elf.object import _alias

            if _alias(spec.section) not in obj.map_specs:  # a map of that name keeps it
                obj.maps[_alias(spec.section)] = live
            obj.globals[spec.section]._bind(live)


def _link(obj: Object, p: ObjectProgram, target: _Target) -> Linked:
    sec = obj._elf.sections[p.shndx]
    btf = obj.btf

    def describe(type_id: int, access: str, kind: int) -> str:
        assert btf is not None
        return core.describe(btf, type_id, access, core.CoreKind(kind))

    linker = Linker(obj.path, obj._elf, obj.ext, obj._locate_map,
                    target.resolve if btf is not None else None, describe,
                    btf.string if btf is not None else str, target.ksym)
    from pybpf.elf.object import MALFORMED

    try:
        return linker.link(sec, p.start, p.count)
    except ElfError:
        raise
    except MALFORMED as e:
        raise ElfError(obj.path, f"cannot relocate program '{p.name}' (malformed object: "
                                 f"{type(e).__name__}: {e})", p.section.name) from None


def _attach_btf_id(obj: Object, p: ObjectProgram, target: _Target) -> int:
    how = p.section.definition.btf_target
    if not how:
        return 0
    name = p.section.target
    lookups = {"func": (name, "func"), "raw_tp": (f"btf_trace_{name}", "typedef"),
               "lsm": (f"bpf_lsm_{name}", "func")}
    tname, kind = lookups[how]
    try:
        return target.btf.find(tname, kind).id
    except KeyError:
        raise ElfError(obj.path, f"the kernel's BTF has no {kind} {tname} to attach "
                                 f"program '{p.name}' to", p.section.name) from None


def _load_program(obj: Object, p: ObjectProgram, target: _Target, skip_unsupported: bool,
                  log_level: int) -> None:
    from pybpf.program import Program

    sec_name = p.section.name
    linked = p.linked = _link(obj, p, target)
    for ref in linked.map_refs:
        live = obj._live[ref.map_key]
        from pybpf.elf.insns import set_map_ref

        set_map_ref(linked.code, ref.slot, live.fd.fileno(), ref.value_offset)
    with_btf = obj.btf_fd is not None and bool(linked.func_info)
    try:
        attach_btf_id = _attach_btf_id(obj, p, target)
        p.program = Program.load(
            p.section.prog_type, bytes(linked.code), license=obj.license or "",
            name=p.name, attach=p.section.attach_type, attach_btf_id=attach_btf_id,
            prog_flags=p.section.definition.flags, kern_version=obj.kern_version,
            log_level=log_level, btf=obj.btf_fd if with_btf else None,
            func_info=linked.func_info if with_btf else b"",
            line_info=linked.line_info if with_btf else b"")
        p.program._refs.extend(obj._created)
    except VerifierError as e:
        raise _verifier_error(obj, p, linked, e) from None
    except NotSupportedError as e:
        msg = f"{obj.path}: section '{sec_name}': program '{p.name}': {e}"
        if skip_unsupported:
            p.skipped = msg
            return
        raise NotSupportedError(msg, e.errno) from None
    except ElfError:
        raise
    except BPFError as e:
        if p.section.definition.btf_target == "func" and _no_trampoline(e):
            msg = (f"{obj.path}: section '{sec_name}': program '{p.name}': this kernel cannot "
                   f"load {p.section.definition.prefix} programs (no BPF trampoline; the "
                   f"kernel said: {e}); use a tracepoint or raw_tp section instead")
            if skip_unsupported:
                p.skipped = msg
                return
            raise NotSupportedError(msg, e.errno) from None
        raise ElfError(obj.path, f"program '{p.name}': {e}", sec_name, e.errno) from None


def _no_trampoline(e: BPFError) -> bool:
    import errno

    from pybpf.sys.errors import has_bpf_privilege

    return e.errno in (errno.EPERM, errno.ENOTSUP, errno.EINVAL, 524) and has_bpf_privilege()


def source_line(obj: Object, linked: Linked, slot: int | None) -> str | None:
    """`file:line: text` of the C line of instruction `slot` (from BTF.ext line info)."""
    if slot is None or obj.btf is None or not linked.line_info:
        return None
    best = None
    for i in range(0, len(linked.line_info), 16):
        off, file_off, line_off, line_col = struct.unpack_from("<IIII", linked.line_info, i)
        if off <= slot:
            best = (file_off, line_off, line_col)
    if best is None:
        return None
    file_name = obj.btf.string(best[0])
    text = obj.btf.string(best[1]).strip()
    return f"{file_name}:{best[2] >> 10}: {text}"


def _verifier_error(obj: Object, p: ObjectProgram, linked: Linked,
                    e: VerifierError) -> BPFError:
    poison = str(POISON_HELPER)
    kfunc = f"unknown#{ksyms.POISON_KFUNC_BASE // 1000000}"  # 2002000000 + the extern's index
    if linked.core_failures and (poison in e.log or f"{POISON_HELPER:#x}" in e.log
                                 or kfunc in e.log):
        bad = linked.core_failures[0]
        for f in linked.core_failures:
            if e.insn_index is not None and f.slot == e.insn_index:
                bad = f
        where = source_line(obj, linked, bad.slot)
        at = f" at {where}" if where else ""
        return ElfError(obj.path, f"program '{p.name}': CO-RE relocation of {bad.description}"
                                  f"{at} failed: {bad.reason}", p.section.name)
    where = source_line(obj, linked, e.insn_index)
    extra = f"\n  at {where}" if where else ""
    return VerifierError(f"{obj.path}: section '{p.section.name}': {e.message}{extra}",
                         e.log, e.insn_index, e.errno)


def attach_one(obj: Object, p: ObjectProgram, *, ifname: str | int | None = None,
               cgroup: str | None = None, sock: Any = None) -> Link:
    if p.program is None:
        raise ElfError(obj.path, f"program '{p.name}' is not loaded", p.section.name)
    try:
        lk = attach(p.section, p.program, ifname=ifname, cgroup=cgroup, sock=sock)
    except MissingTarget as e:
        raise TargetNeededError(obj.path, f"program '{p.name}' needs a {e} to attach to",
                                p.section.name) from None
    except ValueError as e:
        raise ElfError(obj.path, f"program '{p.name}': {e}", p.section.name) from None
    except NotSupportedError as e:
        raise NotSupportedError(f"{obj.path}: section '{p.section.name}': this kernel "
                                f"cannot attach program '{p.name}': {e}", e.errno) from None
    except ElfError:
        raise
    except BPFError as e:
        raise ElfError(obj.path, f"attaching program '{p.name}': {e}", p.section.name,
                       e.errno) from None
    p.links.append(lk)
    return lk


def attach_all(obj: Object, *, ifname: str | int | None, cgroup: str | None, sock: Any,
               skip_unsupported: bool) -> list[Link]:
    if not obj.loaded:
        raise ElfError(obj.path, "attach_all() needs load() first")
    links = []
    for p in obj.programs.values():
        if p.program is None:
            continue
        try:
            links.append(attach_one(obj, p, ifname=ifname, cgroup=cgroup, sock=sock))
        except TargetNeededError as e:
            p.skipped = str(e)
        except NotSupportedError as e:
            if not skip_unsupported:
                raise
            p.skipped = str(e)
    return links


def map_type_name(spec: MapSpec) -> str:
    return MapType(spec.type).name.lower() if spec.type in MapType._value2member_map_ \
        else str(spec.type)
