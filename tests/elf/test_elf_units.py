"""Pieces of the loader without the kernel: section names, BTF-typed values, BTF fix-ups
and sanitizing, BTF.ext, linking (bpf-to-bpf calls, map references)."""

from __future__ import annotations

import pytest

from pybpf.btf import BTF, BTFBuilder
from pybpf.btf import format as fmt
from pybpf.elf import btfpatch, sections, values
from pybpf.elf.insns import CALL, PSEUDO_CALL, PSEUDO_MAP_VALUE, get
from pybpf.elf.object import Object
from pybpf.sys import AttachType, ProgType


@pytest.mark.parametrize("name,ptype,atype,how,target", [
    ("tracepoint/sched/sched_switch", ProgType.TRACEPOINT, None, "tracepoint",
     "sched/sched_switch"),
    ("tp/syscalls/sys_enter_openat", ProgType.TRACEPOINT, None, "tracepoint",
     "syscalls/sys_enter_openat"),
    ("raw_tp/sched_switch", ProgType.RAW_TRACEPOINT, None, "raw_tp", "sched_switch"),
    ("raw_tracepoint/sys_enter", ProgType.RAW_TRACEPOINT, None, "raw_tp", "sys_enter"),
    ("tp_btf/sched_switch", ProgType.TRACING, AttachType.TRACE_RAW_TP, "tracing",
     "sched_switch"),
    ("kprobe/do_sys_openat2", ProgType.KPROBE, None, "kprobe", "do_sys_openat2"),
    ("kretprobe/do_sys_openat2", ProgType.KPROBE, None, "kretprobe", "do_sys_openat2"),
    ("fentry/vfs_read", ProgType.TRACING, AttachType.TRACE_FENTRY, "tracing", "vfs_read"),
    ("fexit/vfs_read", ProgType.TRACING, AttachType.TRACE_FEXIT, "tracing", "vfs_read"),
    ("uprobe//bin/bash:readline", ProgType.KPROBE, None, "uprobe", "/bin/bash:readline"),
    ("perf_event", ProgType.PERF_EVENT, None, "perf_event", ""),
    ("xdp", ProgType.XDP, AttachType.XDP, "xdp", ""),
    ("tc", ProgType.SCHED_CLS, None, "tc", ""),
    ("tcx/ingress", ProgType.SCHED_CLS, AttachType.TCX_INGRESS, "tc", ""),
    ("tcx/egress", ProgType.SCHED_CLS, AttachType.TCX_EGRESS, "tc", ""),
    ("socket", ProgType.SOCKET_FILTER, None, "socket", ""),
    ("socket/1", ProgType.SOCKET_FILTER, None, "socket", "1"),
    ("cgroup_skb/egress", ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, "cgroup", ""),
    ("cgroup_skb/ingress", ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, "cgroup", ""),
])
def test_section_names(name, ptype, atype, how, target):
    sec = sections.lookup(name)
    assert sec is not None
    assert (sec.prog_type, sec.attach_type, sec.definition.attach, sec.target) == \
        (ptype, atype, how, target)


@pytest.mark.parametrize("name", ["bogus", "kprobes/x", "xdpx", ".text", "tracepointx/a/b"])
def test_unknown_sections(name):
    assert sections.lookup(name) is None


def _value_btf() -> tuple[BTF, dict[str, int]]:
    b = BTFBuilder()
    u32 = b.add_int("unsigned int", 4)
    s16 = b.add_int("short", 2, signed=True)
    char = b.add_int("char", 1, signed=True, char=True)
    boolean = b.add_int("_Bool", 1, bool_=True)
    comm = b.add_array(char, u32, 8)
    pair = b.add_array(s16, u32, 2)
    e = b.add_enum("mode", {"A": 1, "B": 2})
    inner = b.add_struct("", 4, [("x", u32, 0)])
    s = b.add_struct("rec", 28, [("pid", u32, 0), ("comm", comm, 32), ("pair", pair, 96),
                                 ("m", e, 128), ("", inner, 160), ("lo", u32, 192, 3),
                                 ("hi", u32, 195, 5), ("ok", boolean, 208)])
    return BTF.from_bytes(b.encode()), {"rec": s}


def test_values_round_trip():
    btf, ids = _value_btf()
    v = {"pid": 7, "comm": "abc", "pair": [-1, 2], "m": 2, "x": 9, "lo": 5, "hi": 17,
         "ok": True}
    raw = values.encode(btf, ids["rec"], v)
    assert len(raw) == 28
    assert values.decode(btf, ids["rec"], raw) == v
    # a partial dict keeps the other members
    raw2 = values.encode(btf, ids["rec"], {"pid": 8, "m": "A"}, raw)
    assert values.decode(btf, ids["rec"], raw2) == {**v, "pid": 8, "m": 1}
    with pytest.raises(ValueError, match="no member 'nope'"):
        values.encode(btf, ids["rec"], {"nope": 1})


def _fixable_btf() -> bytes:
    b = BTFBuilder()
    i = b.add_int("int", 4, signed=True)
    v1 = b.add_var("second", i, "global")
    v2 = b.add_var("first", i, "global")
    v3 = b.add_var("ext", i, "extern")
    b.add_datasec(".data", 0, [(v1, 0, 4), (v2, 0, 4)])
    b.add_datasec(".kconfig", 0, [(v3, 0, 4)])
    b.add_decl_tag("tag", v1)
    b.add_ptr(b.add_type_tag("user", i))
    b.add_float("double", 8)
    b.add_enum64("big", {"X": 1 << 40, "Y": 2})
    return b.encode()


def test_datasec_fixups():
    raw = btfpatch.RawBTF(_fixable_btf())
    left = btfpatch.fix_datasecs(
        raw, {".data": 8, ".kconfig": 4}.get,
        lambda sec, var: {"second": 4, "first": 0, "ext": 0}.get(var))
    assert left == []
    btf = BTF.from_bytes(raw.bytes())
    data = btf.find(".data", "datasec")
    assert data.size == 8
    assert [(v.type.name, v.offset) for v in data.vars] == [("first", 0), ("second", 4)]
    assert btf.find("ext", "var").linkage == "global"


def test_sanitize_for_old_kernels():
    raw = btfpatch.RawBTF(_fixable_btf())
    btfpatch.fix_datasecs(raw, lambda n: 8, lambda s, v: 0)
    before = raw.nr_types
    done = btfpatch.sanitize(raw, supported=lambda kind: False)
    assert done == ["decl_tag", "enum64", "float", "type_tag"]
    btf = BTF.from_bytes(raw.bytes())
    kinds = btf.kind_counts()
    for gone in ("decl_tag", "type_tag", "float", "enum64"):
        assert gone not in kinds
    assert len(btf) == before + 1  # one int added for the enum64 union's members
    # ids did not move: the var 'second' is still type 2
    assert btf.type_by_id(2).name == "second"


def test_sanitize_keeps_supported_kinds():
    raw = btfpatch.RawBTF(_fixable_btf())
    assert btfpatch.sanitize(raw, supported=lambda kind: True) == []


def test_raw_btf_rejects_unknown_kinds():
    data = bytearray(_fixable_btf())
    hdr = fmt.HEADER.unpack_from(data)
    at = hdr[3] + hdr[4] + 4  # info word of type 1
    data[at + 3] = 30
    with pytest.raises(ValueError, match="unknown kind 30"):
        btfpatch.RawBTF(bytes(data))


def test_linking_appends_subprogram_and_records_maps(objects):
    from pybpf.elf.loader import _link, _Target

    obj = Object.open(objects["counter"])
    prog = obj.programs.count_getpid
    linked = _link(obj, prog, _Target(obj))
    main_len = prog.count
    assert len(linked.code) // 8 > main_len  # bump() appended
    calls = [i for i in range(len(linked.code) // 8)
             if get(linked.code, i)[0] == CALL and get(linked.code, i)[2] == PSEUDO_CALL]
    assert len(calls) == 1
    assert calls[0] + get(linked.code, calls[0])[4] + 1 == main_len
    kinds = {(r.map_key, r.value_offset) for r in linked.map_refs}
    assert kinds == {("counts", None), (".bss", 0)}
    assert [s[1] for s in linked.sections] == ["tracepoint/syscalls/sys_enter_getpid", ".text"]
    # line info covers both parts, first record at instruction 0
    assert linked.line_info[:4] == b"\0\0\0\0"


def test_global_data_reference_uses_map_value(objects):
    from pybpf.elf.loader import _link, _Target

    obj = Object.open(objects["globals"])
    linked = _link(obj, obj.programs.globals, _Target(obj))
    refs = {r.map_key for r in linked.map_refs}
    assert {".rodata", ".data", ".bss", ".kconfig", "legacy"} <= refs
    assert all(r.value_offset is not None for r in linked.map_refs if r.map_key != "legacy")
    assert PSEUDO_MAP_VALUE == 2


def test_maps_and_programs_by_name(objects):
    obj = Object.open(objects["net"])
    assert list(obj.programs) == ["count_socket", "count_xdp", "count_tc", "count_cgroup"]
    assert obj.programs.count_xdp.section.name == "xdp"
    assert obj.maps.packets.max_entries == 4
    assert obj.maps.rodata is obj.map_specs[".rodata"]
    assert obj.license == "GPL"
    with pytest.raises(AttributeError, match="known: packets"):
        obj.maps.nope  # noqa: B018


def test_decoding_a_struct_that_contains_itself_stops():
    """Damaged BTF can make a struct its own member: decode recursed to Python's limit."""
    b = BTFBuilder()
    u32 = b.add_int("unsigned int", 4)
    loop = b.add_struct("loop", 8, [("x", u32, 0), ("again", u32 + 1, 32)])  # itself
    btf = BTF.from_bytes(b.encode())
    with pytest.raises(ValueError, match="nests more than 64 levels deep"):
        values.decode(btf, loop, bytes(8))


def test_decoding_an_array_reads_only_the_elements_in_the_data():
    """A damaged element count made a list of that many zeros, whatever the data held."""
    b = BTFBuilder()
    u32 = b.add_int("unsigned int", 4)
    big = b.add_array(u32, u32, 1 << 24)
    btf = BTF.from_bytes(b.encode())
    assert values.decode(btf, big, bytes(range(8))) == [0x03020100, 0x07060504]


def test_core_bitfield_of_a_sizeless_type_is_a_core_error():
    """A bitfield member whose type has size 0 (damaged BTF) divided by zero."""
    from pybpf.elf import core

    b = BTFBuilder()
    empty = b.add_struct("empty", 0, [])
    s = b.add_struct("task_struct", 4, [("flags", empty, 0, 3)])
    btf = BTF.from_bytes(b.encode())
    with pytest.raises(core.CoreError, match="bitfield task_struct.flags has a type of size 0"):
        core.resolve(btf, btf, s, "0:0", core.CoreKind.FIELD_BYTE_OFFSET)
