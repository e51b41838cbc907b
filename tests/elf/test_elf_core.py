"""CO-RE: relocations computed against the running kernel's BTF (a task_struct flavour with
its fields in another order, a missing field, type/enum relocations), and the resolver
against made-up target BTF (anonymous members, bitfields, arrays, size changes)."""

from __future__ import annotations

import os

import pytest

from pybpf.btf import BTF, BTFBuilder, kernel_btf
from pybpf.elf import Object, core
from pybpf.elf.core import CoreKind
from pybpf.elf.insns import POISON_HELPER, get
from tests.util import requires_root


@requires_root
def test_task_struct_flavour_reads_the_kernels_fields(objects, no_leaks):
    with Object.open(objects["core"]) as obj:
        obj.rodata.target_pid = os.getpid()
        obj.load()
        obj.attach_all()
        os.getsid(0)
        r = obj.maps.results[0]
    k = kernel_btf()
    assert r["pid"] == r["pid_plain"] == r["tgid"] == os.getpid()
    assert r["ppid"] == os.getppid()
    assert r["comm"] == open("/proc/self/comm").read().strip()[:15]
    assert r["missing_exists"] == 0  # bpf_core_field_exists on a missing field
    assert r["pid_exists"] == 1
    assert r["comm_size"] == 16
    assert r["pid_signed"] == 1
    assert r["task_type_exists"] == 1
    assert r["missing_type_exists"] == 0
    assert r["task_size"] == k.sizeof("struct task_struct")
    assert r["ringbuf_exists"] == 1
    assert r["ringbuf_value"] == k.enum_value("BPF_MAP_TYPE_RINGBUF") == 27
    assert r["not_there_exists"] == 0


def test_offsets_differ_from_the_local_layout(objects):
    """The object's task_struct___x puts pid at byte 32; the kernel's is elsewhere."""
    obj = Object.open(objects["core"])
    local = obj.btf
    assert local is not None
    flavour = local.find("task_struct___x", "struct")
    k = kernel_btf()
    for field in ("pid", "tgid", "real_parent", "comm"):
        i = [m.name for m in flavour.members].index(field)
        res = core.resolve(local, k, flavour.id, f"0:{i}", CoreKind.FIELD_BYTE_OFFSET)
        assert res.local == flavour.member(field).offset
        assert res.target == k.offsetof("task_struct", field)
        assert res.local != res.target
    missing = [m.name for m in flavour.members].index("not_a_real_field___")
    res = core.resolve(local, k, flavour.id, f"0:{missing}", CoreKind.FIELD_BYTE_OFFSET)
    assert res.poison and "no field not_a_real_field___" in res.reason
    assert core.resolve(local, k, flavour.id, f"0:{missing}", CoreKind.FIELD_EXISTS).target == 0


def _target() -> BTF:
    b = BTFBuilder()
    u32 = b.add_int("unsigned int", 4)
    s64 = b.add_int("long long", 8, signed=True)
    u16 = b.add_int("unsigned short", 2)
    char = b.add_int("char", 1, signed=True, char=True)
    arr = b.add_array(char, u32, 8)
    inner = b.add_struct("", 16, [("b", s64, 0), ("c", u32, 64)])
    anon = b.add_union("", 16, [("", inner, 0), ("alt", s64, 0)])
    b.add_struct("thing", 48, [("name", arr, 0), ("flags", u32, 64, 3), ("mode", u32, 67, 5),
                               ("", anon, 128), ("a", u16, 256)])
    b.add_enum("colour", {"RED": 5, "BLUE": 9})
    return BTF.from_bytes(b.encode())


def _local() -> tuple[BTF, dict[str, int]]:
    b = BTFBuilder()
    u32 = b.add_int("unsigned int", 4)
    s64 = b.add_int("long long", 8, signed=True)
    char = b.add_int("char", 1, signed=True, char=True)
    arr = b.add_array(char, u32, 8)
    thing = b.add_struct("thing___local", 40, [("a", u32, 0), ("b", s64, 64),
                                               ("mode", u32, 128, 5), ("name", arr, 192),
                                               ("gone", u32, 256)])
    colour = b.add_enum("colour___local", {"BLUE": 1, "GREEN": 2})
    other = b.add_struct("not_there", 4, [("z", u32, 0)])
    return BTF.from_bytes(b.encode()), {"thing": thing, "colour": colour, "other": other}


def test_resolver_against_made_up_kernel_types():
    local, ids = _local()
    target = _target()
    t = ids["thing"]

    def val(access: str, kind: CoreKind) -> core.Resolution:
        return core.resolve(local, target, t, access, kind)

    # "b" sits in an anonymous struct inside an anonymous union in the target
    assert val("0:1", CoreKind.FIELD_BYTE_OFFSET).target == 16
    assert val("0:1", CoreKind.FIELD_SIGNED).target == 1
    # a field whose size changed (u32 locally, u16 in the target): the load width follows
    res = val("0:0", CoreKind.FIELD_BYTE_OFFSET)
    assert (res.target, res.local_size, res.target_size) == (32, 4, 2)
    assert val("0:0", CoreKind.FIELD_BYTE_SIZE).target == 2
    # bitfield: mode is bits 67..71 of the target
    assert val("0:2", CoreKind.FIELD_BYTE_OFFSET).target == 8
    assert val("0:2", CoreKind.FIELD_LSHIFT_U64).target == 64 - (67 + 5 - 64)
    assert val("0:2", CoreKind.FIELD_RSHIFT_U64).target == 64 - 5
    # array element: name[3]
    assert val("0:3:3", CoreKind.FIELD_BYTE_OFFSET).target == 3
    assert val("0:3", CoreKind.FIELD_BYTE_SIZE).target == 8
    assert val("0:4", CoreKind.FIELD_EXISTS).target == 0
    assert val("0:4", CoreKind.FIELD_BYTE_OFFSET).poison
    # types and enums
    assert core.resolve(local, target, t, "0", CoreKind.TYPE_SIZE).target == 48
    assert core.resolve(local, target, t, "0", CoreKind.TYPE_EXISTS).target == 1
    assert core.resolve(local, target, ids["other"], "0", CoreKind.TYPE_EXISTS).target == 0
    assert core.resolve(local, target, ids["other"], "0", CoreKind.TYPE_SIZE).poison
    tid = core.resolve(local, target, t, "0", CoreKind.TYPE_ID_TARGET).target
    assert target.type_by_id(tid).name == "thing"
    c = ids["colour"]
    assert core.resolve(local, target, c, "0", CoreKind.ENUMVAL_VALUE).target == 9
    assert core.resolve(local, target, c, "1", CoreKind.ENUMVAL_EXISTS).target == 0


def test_essential_names():
    assert core.essential_name("task_struct___x") == "task_struct"
    assert core.essential_name("task_struct") == "task_struct"
    assert core.essential_name("___odd") == "___odd"


def test_missing_field_is_poisoned_not_fatal(objects):
    """The guarded read of a missing field is poisoned; the object still links."""
    obj = Object.open(objects["core"])
    from pybpf.elf.loader import _link, _Target

    linked = _link(obj, obj.programs.read_task, _Target(obj))
    assert len(linked.core_failures) == 1
    slot = linked.core_failures[0].slot
    assert get(linked.code, slot)[4] == POISON_HELPER


@pytest.mark.parametrize("kind", list(CoreKind))
def test_describe_every_kind(objects, kind):
    obj = Object.open(objects["core"])
    flavour = obj.btf.find("task_struct___x", "struct")
    text = core.describe(obj.btf, flavour.id, "0:4", kind)
    assert kind.name.lower().replace("_", " ") in text
