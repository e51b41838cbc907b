"""Map definitions of an object: BTF-defined maps (`.maps`), the legacy `maps` section,
global data sections (`.data`, `.rodata`, `.bss` and their `.*` variants) and `.kconfig`.

BTF-defined maps are variables of anonymous struct type whose members encode the attributes:
`__uint(name, N)` is `int (*name)[N]` (N is the array length), `__type(name, T)` is `T *name`
and `__array(values, struct {...})` is an array of pointers to an inner map definition.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from pybpf.btf import BTF
from pybpf.btf import types as t
from pybpf.elf.errors import ElfError
from pybpf.elf.reader import ElfObject, Section
from pybpf.sys import MapType
from pybpf.sys import constants as C

DATA_PREFIXES = (".data", ".rodata", ".bss")
KCONFIG = ".kconfig"
U32_MAX = 0xFFFFFFFF
_UINT_ATTRS = ("type", "max_entries", "map_flags", "numa_node", "key_size", "value_size",
               "pinning", "map_extra")


@dataclass
class MapSpec:
    name: str  # the C name (or section name for global data)
    type: int
    key_size: int = 0
    value_size: int = 0
    max_entries: int = 0
    flags: int = 0
    numa_node: int = 0
    map_extra: int = 0
    key_type_id: int = 0
    value_type_id: int = 0
    section: str = ".maps"
    shndx: int = -1  # ELF section of the definition (legacy/BTF maps: to find by symbol)
    offset: int = 0  # offset of the definition in that section
    inner: MapSpec | None = None
    initial: bytes | None = None  # global data contents
    kind: str = "user"  # "user", "data", "kconfig"
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def readonly(self) -> bool:
        return self.kind == "kconfig" or self.section.startswith(".rodata")


def check_sizes(path: str, spec: MapSpec) -> None:
    """The attributes are u32 in bpf_attr (map_extra u64): a larger value would be cut down
    to another one when the map is created."""
    for attr in ("type", "key_size", "value_size", "max_entries", "flags", "numa_node"):
        value = getattr(spec, attr)
        if not 0 <= value <= U32_MAX:
            raise ElfError(path, f"map '{spec.name}': {attr.replace('_', ' ')} {value} does "
                                 "not fit in 32 bits", spec.section)
    if not 0 <= spec.map_extra < 1 << 64:
        raise ElfError(path, f"map '{spec.name}': map_extra {spec.map_extra} does not fit in "
                             "64 bits", spec.section)
    if spec.inner is not None:
        check_sizes(path, spec.inner)


def _uint(btf: BTF, m: t.Member) -> int:
    ptr = m.type.resolve() if isinstance(m.type, t.Modifier) else m.type
    arr = ptr.target.resolve() if isinstance(ptr, t.Ptr) else None
    if not isinstance(arr, t.Array):
        raise ValueError(f"attribute '{m.name}' is not declared with __uint()")
    return arr.nelems


def _pointee(btf: BTF, m: t.Member) -> t.Type:
    ptr = m.type.resolve() if isinstance(m.type, t.Modifier) else m.type
    if not isinstance(ptr, t.Ptr):
        raise ValueError(f"attribute '{m.name}' is not declared with __type()")
    return ptr.target


def _btf_def(path: str, btf: BTF, name: str, typ: t.Type, inner: bool = False) -> MapSpec:
    typ = typ.resolve()
    if not isinstance(typ, t.Struct):
        raise ElfError(path, f"map '{name}' is not a struct definition", ".maps")
    spec = MapSpec(name, 0)
    try:
        for m in typ.members:
            if m.name in _UINT_ATTRS:
                value = _uint(btf, m)
                if m.name == "type":
                    spec.type = value
                elif m.name == "map_flags":
                    spec.flags = value
                elif m.name in ("max_entries", "numa_node", "key_size", "value_size",
                                "map_extra"):
                    setattr(spec, m.name, value)
                else:
                    spec.extra[m.name] = value
            elif m.name in ("key", "value"):
                target = _pointee(btf, m)
                size = btf.sizeof(target)
                setattr(spec, f"{m.name}_size", size)
                setattr(spec, f"{m.name}_type_id", target.id)
            elif m.name == "values":
                arr = m.type.resolve()
                if not isinstance(arr, t.Array) or not isinstance(arr.elem.resolve(), t.Ptr):
                    raise ValueError("'values' is not declared with __array()")
                inner_t = arr.elem.resolve()
                assert isinstance(inner_t, t.Ptr)
                if inner:
                    # like libbpf; it also stops a definition that names itself as its
                    # inner map (damaged BTF) from recursing forever
                    raise ValueError("multi-level inner maps are not supported")
                if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
                    spec.inner = _btf_def(path, btf, f"{name}.inner", inner_t.target, True)
            else:
                raise ValueError(f"unknown attribute '{m.name}'")
    except (ValueError, KeyError) as e:
        raise ElfError(path, f"map '{name}': {e}", ".maps") from None
    if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS) and spec.inner:
        spec.value_size = 4
    return spec


def btf_maps(path: str, elf: ElfObject, btf: BTF | None) -> list[MapSpec]:
    sec = elf.section(".maps")
    if sec is None:
        return []
    if btf is None:
        raise ElfError(path, "BTF-defined maps need the object's .BTF section (build with "
                             "clang -g)", ".maps")
    try:
        datasec = btf.find(".maps", "datasec")
    except KeyError:
        raise ElfError(path, "no DATASEC .maps in the object's BTF", ".maps") from None
    assert isinstance(datasec, t.Datasec)
    offsets = {s.name: s.value for s in elf.symbols_in(sec.index)}
    out = []
    for v in datasec.vars:
        var = v.type
        assert isinstance(var, t.Var)
        spec = _btf_def(path, btf, var.name, var.type)
        spec.shndx, spec.offset = sec.index, offsets.get(var.name, v.offset)
        out.append(spec)
    return out


def legacy_maps(path: str, elf: ElfObject) -> list[MapSpec]:
    """`struct bpf_map_def SEC("maps")`: type, key_size, value_size, max_entries, map_flags."""
    sec = elf.section("maps")
    if sec is None:
        return []
    syms = [s for s in elf.symbols_in(sec.index) if s.type in ("STT_OBJECT", "STT_NOTYPE")]
    if not syms:
        return []
    size = sec.size // len(syms)
    if size < 16:
        raise ElfError(path, f"map definitions of {size} bytes are too small", "maps")
    out = []
    for s in syms:
        raw = sec.data[s.value: s.value + min(size, 20)].ljust(20, b"\0")
        mtype, ksize, vsize, max_entries, flags = struct.unpack("<5I", raw)
        out.append(MapSpec(s.name, mtype, ksize, vsize, max_entries, flags, section="maps",
                           shndx=sec.index, offset=s.value))
    return out


def is_data_section(sec: Section) -> bool:
    return (sec.allocated and not sec.executable and sec.size > 0
            and any(sec.name == p or sec.name.startswith(p + ".") for p in DATA_PREFIXES))


def data_maps(elf: ElfObject, btf: BTF | None) -> list[MapSpec]:
    out = []
    for sec in elf.sections.values():
        if not is_data_section(sec):
            continue
        if sec.size > U32_MAX:  # checked before bytes(sec.size) allocates it
            raise ElfError(elf.path, f"{sec.size} bytes of global data do not fit in one map "
                                     "value (at most 4 GiB)", sec.name)
        value_type = 0
        if btf is not None:
            try:
                value_type = btf.find(sec.name, "datasec").id
            except KeyError:
                pass
        flags = C.BPF_F_RDONLY_PROG if sec.name.startswith(".rodata") else 0
        out.append(MapSpec(sec.name, MapType.ARRAY, 4, sec.size, 1, flags, section=sec.name,
                           shndx=sec.index, value_type_id=value_type,
                           initial=bytes(sec.size) if sec.nobits else sec.data, kind="data"))
    return out
