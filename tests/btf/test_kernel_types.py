"""Look-ups in the running kernel's BTF, checked against bpftool and fixed ABI facts."""

from __future__ import annotations

import pytest

from pybpf.btf import BTFError, BTFNotFoundError, kernel_btf
from pybpf.btf import types as t
from tests.btf import refdump


def test_singleton(kbtf):
    assert kernel_btf() is kbtf
    assert len(kbtf) > 1000
    assert kbtf.type_by_id(0).kind == "void"


@pytest.mark.parametrize(
    "name,size",
    [("bpf_insn", 8), ("ethhdr", 14), ("iphdr", 20), ("ipv6hdr", 40), ("udphdr", 8), ("tcphdr", 20),
     ("list_head", 16), ("callback_head", 16)],
)  # fmt: skip
def test_uapi_struct_sizes(kbtf, name, size):
    try:
        s = kbtf.struct(name)
    except KeyError:
        pytest.skip(f"struct {name} not in this kernel's BTF")
    assert s.size == size
    assert kbtf.sizeof(f"struct {name}") == size
    assert kbtf.sizeof(s) == size


def test_bitfields_iphdr(kbtf):
    ip = kbtf.struct("iphdr")
    ihl, version = ip.member("ihl"), ip.member("version")
    assert (ihl.bit_offset, ihl.bitfield_size) == (0, 4)  # little-endian layout
    assert (version.bit_offset, version.bitfield_size) == (4, 4)
    assert ihl.offset == version.offset == 0
    assert kbtf.offsetof("iphdr", "ttl") == 8 and kbtf.offsetof("iphdr", "protocol") == 9
    # saddr/daddr live in an anonymous union (struct_group) in recent kernels
    assert kbtf.offsetof("iphdr", "saddr") == 12 and kbtf.offsetof("iphdr", "daddr") == 16
    assert str(ihl) == "__u8 ihl : 4"


def test_bpf_insn_layout(kbtf):
    insn = kbtf.struct("bpf_insn")
    assert [m.name for m in insn.members] == ["code", "dst_reg", "src_reg", "off", "imm"]
    assert (insn.member("dst_reg").bit_offset, insn.member("dst_reg").bitfield_size) == (8, 4)
    assert (insn.member("src_reg").bit_offset, insn.member("src_reg").bitfield_size) == (12, 4)
    assert kbtf.offsetof("bpf_insn", "imm") == 4


def test_enums(kbtf):
    e = kbtf.enum("bpf_func_id")
    assert e.values["BPF_FUNC_unspec"] == 0
    assert e.values["BPF_FUNC_map_lookup_elem"] == 1
    assert e.values["BPF_FUNC_ringbuf_output"] == 130
    assert e["BPF_FUNC_map_update_elem"] == 2
    assert kbtf.enum_value("BPF_FUNC_trace_printk") == 6
    assert e.name_of(1) == "BPF_FUNC_map_lookup_elem"
    assert kbtf.enum("bpf_map_type").values["BPF_MAP_TYPE_HASH"] == 1
    with pytest.raises(KeyError, match="BPF_FUNC_map_lookup_elem"):
        e["BPF_FUNC_map_lookup_elm"]


def test_enum64_signedness(kbtf, ref):
    enum64 = [r for r in ref.values() if r.kind == "ENUM64"]
    assert enum64, "the kernel has ENUM64 types"
    for r in enum64:
        e = kbtf.type_by_id(r.id)
        assert isinstance(e, t.Enum64) and e.kind == "enum64"
        assert e.signed == (r.attrs["encoding"] == "SIGNED")
        for (name, attrs), (k, v) in zip(r.items, e.values.items(), strict=True):
            assert name == k and refdump.num(attrs["val"]) == v


def test_task_struct(kbtf, ref):
    ts = kbtf.struct("task_struct")
    r = ref[ts.id]
    assert (r.kind, r.name, int(r.attrs["size"])) == ("STRUCT", "task_struct", ts.size)
    assert len(ts.members) == int(r.attrs["vlen"])
    for m, (name, attrs) in zip(ts.members, r.items, strict=True):
        assert m.name == name
        assert m.type_id == int(attrs["type_id"])
        assert m.bit_offset == int(attrs["bits_offset"])
        assert m.bitfield_size == int(attrs.get("bitfield_size", 0))
    assert kbtf.offsetof("task_struct", "pid") == ts.member("pid").offset
    assert kbtf.offsetof("task_struct", "tgid") == kbtf.offsetof("task_struct", "pid") + 4
    assert str(ts.member("real_parent").type) == "struct task_struct *"
    assert str(ts.member("comm").type) == "char[16]"


def test_member_paths(kbtf):
    pid = kbtf.offsetof("task_struct", "pid")
    mp = kbtf.member("task_struct", "real_parent.tgid")
    assert mp.chain == (kbtf.offsetof("task_struct", "real_parent"),)
    assert mp.offset == kbtf.offsetof("task_struct", "tgid") and mp.offset == pid + 4
    assert str(mp.type) == "pid_t" and mp.size == 4
    with pytest.raises(BTFError, match="follow_pointers"):
        kbtf.member("task_struct", "real_parent.tgid", follow_pointers=False)
    # nested, no pointer: the offsets add up
    se = kbtf.offsetof("task_struct", "se")
    assert kbtf.offsetof("task_struct", "se.vruntime") == se + kbtf.offsetof("sched_entity", "vruntime")
    # "->" works like "." and array indexes add element sizes
    assert kbtf.member("task_struct", "mm->pgd").chain == (kbtf.offsetof("task_struct", "mm"),)
    comm = kbtf.offsetof("task_struct", "comm")
    assert kbtf.offsetof("task_struct", "comm[3]") == comm + 3
    with pytest.raises(BTFError, match="out of range"):
        kbtf.offsetof("task_struct", "comm[16]")


def test_anonymous_members(kbtf):
    # sk_buff keeps `len` directly, but `next`/`dev`/`tstamp` sit inside anonymous unions
    skb = kbtf.struct("sk_buff")
    for name in ("len", "data", "head", "protocol", "mark", "dev", "next"):
        assert skb.has_member(name), name
    top = {m.name for m in skb.members}
    assert "next" not in top  # only reachable through an anonymous member
    nxt = skb.member("next")
    assert nxt.offset == 0 and str(nxt.type) == "struct sk_buff *"
    assert kbtf.offsetof("sk_buff", "dev") == skb.member("dev").offset
    sock_family = kbtf.member("sock", "__sk_common.skc_family")
    assert sock_family.offset == kbtf.offsetof("sock_common", "skc_family")
    with pytest.raises(KeyError, match="struct sock has no member 'sk_family'"):
        kbtf.offsetof("sock", "sk_family")  # a #define in C, not a member


def test_did_you_mean(kbtf):
    with pytest.raises(KeyError) as info:
        kbtf.struct("task_struc")
    assert "task_struct" in str(info.value) and "did you mean" in str(info.value)
    assert isinstance(info.value, BTFNotFoundError)
    with pytest.raises(KeyError, match="'pid'"):
        kbtf.member("task_struct", "pidd")
    with pytest.raises(KeyError, match="real_parent"):
        kbtf.struct("task_struct").member("real_parnt")


def test_find_kinds_and_prefixes(kbtf):
    assert kbtf.find("task_struct").kind == "struct"
    assert kbtf.find("struct task_struct") is kbtf.struct("task_struct")
    assert kbtf.find("u32", kind="typedef").resolve().name == "unsigned int"
    assert kbtf.find("int", kind="int").size == 4
    assert kbtf.find("bpf_func_id", kind="enum").kind == "enum"
    with pytest.raises(ValueError, match="unknown BTF kind"):
        kbtf.find("x", kind="structure")
    assert kbtf.sizeof("u64") == 8 and kbtf.sizeof("struct task_struct *") == 8


def test_func(kbtf):
    f = kbtf.func("do_sys_openat2")
    assert f.kind == "func" and f.linkage in ("static", "global")
    params = [(name, str(typ)) for name, typ in f.proto.params]
    assert params == [("dfd", "int"), ("filename", "const char *"), ("how", "struct open_how *")]
    assert str(f.ret) in ("long", "long int", "int")
    assert str(f).startswith(str(f.ret)) and "do_sys_openat2(int dfd" in str(f)


def test_variadic_proto(kbtf):
    proto = kbtf.func("_printk").proto
    assert proto.variadic and str(proto).endswith(", ...)")


def test_c_rendering(kbtf):
    assert str(kbtf.find("unsigned int", "int")) == "unsigned int"
    cb = kbtf.struct("callback_head").member("func")
    assert str(cb.type) == "void (*)(struct callback_head *)"
    assert str(cb) == "void (*func)(struct callback_head *)"
    assert "struct sk_buff {" in kbtf.struct("sk_buff").definition()


def test_resolve(kbtf):
    u32 = kbtf.find("u32", "typedef")
    assert u32.resolve().kind == "int" and u32.size == 4
    c = kbtf.struct("task_struct").member("real_parent").type
    assert c.resolve() is c  # pointers are not skipped


def test_lazy_first_lookup_decodes_little():
    import subprocess
    import sys

    code = (
        "from pybpf.btf import kernel_btf\n"
        "b = kernel_btf(); s = b.struct('task_struct'); assert len(s.members) > 100\n"
        "print(len(b._types))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert int(out) <= 4  # void, task_struct, and whatever the name search had to look at


def test_raw_tracepoint_args(kbtf):
    from pybpf.btf import raw_tracepoint_args

    args = raw_tracepoint_args(kbtf, "sched_switch")
    assert [n for n, _ in args] == ["preempt", "prev", "next", "prev_state"]
    assert [str(ty) for _, ty in args][1:3] == ["struct task_struct *"] * 2
    exec_args = raw_tracepoint_args(kbtf, "sched:sched_process_exec")
    assert [n for n, _ in exec_args] == ["p", "old_pid", "bprm"]
    with pytest.raises(KeyError, match="sched_switch"):
        raw_tracepoint_args(kbtf, "sched_swich")


def test_type_by_id_range(kbtf):
    with pytest.raises(KeyError, match="out of range"):
        kbtf.type_by_id(len(kbtf))
