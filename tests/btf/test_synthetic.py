"""Every kind, encoded by BTFBuilder and decoded back; split BTF; C rendering."""

from __future__ import annotations

import pytest

from pybpf.btf import BTF, BTFError, BTFNotFoundError
from pybpf.btf import types as t
from pybpf.btf.writer import BTFBuilder


def build_all_kinds() -> tuple[BTF, dict[str, int]]:
    b = BTFBuilder()
    ids: dict[str, int] = {}
    ids["int"] = b.add_int("int", 4, signed=True)
    ids["uint"] = b.add_int("unsigned int", 4)
    ids["char"] = b.add_int("char", 1, char=True, signed=True)
    ids["bool"] = b.add_int("_Bool", 1, bool_=True)
    ids["u8"] = b.add_int("unsigned char", 1)
    ids["long"] = b.add_int("long", 8, signed=True)
    ids["ptr_char"] = b.add_ptr(ids["char"])
    ids["const_char"] = b.add_const(ids["char"])
    ids["ptr_const_char"] = b.add_ptr(ids["const_char"])
    ids["arr"] = b.add_array(ids["char"], ids["int"], 16)
    ids["volatile"] = b.add_volatile(ids["int"])
    ids["restrict"] = b.add_restrict(ids["ptr_char"])
    ids["typedef"] = b.add_typedef("u32", ids["uint"])
    ids["fwd"] = b.add_fwd("opaque")
    ids["fwd_union"] = b.add_fwd("opaque_u", union=True)
    ids["enum"] = b.add_enum("color", {"RED": 0, "GREEN": 1, "NEG": -5}, signed=True)
    ids["enum_u"] = b.add_enum("flags", {"A": 1, "B": 0x80000000})
    ids["enum64"] = b.add_enum64("big", {"X": 1 << 40, "M": -1}, signed=True)
    ids["enum64_u"] = b.add_enum64("ubig", {"Y": (1 << 64) - 1})
    ids["float"] = b.add_float("double", 8)
    ids["inner"] = b.add_union("", 8, [("lo", ids["uint"], 0), ("whole", ids["long"], 0)])
    ids["hdr"] = b.add_struct(
        "hdr",
        32,
        [
            ("ihl", ids["u8"], 0, 4),
            ("version", ids["u8"], 4, 4),
            ("tos", ids["u8"], 8, 0),
            ("", ids["inner"], 64),  # anonymous union
            ("name", ids["arr"], 128),
        ],
    )
    ids["ptr_hdr"] = b.add_ptr(ids["hdr"])
    ids["outer"] = b.add_struct("outer", 24, [("h", ids["ptr_hdr"], 0), ("u", ids["typedef"], 64), ("tail", ids["arr"], 96)])
    ids["proto"] = b.add_func_proto(ids["int"], [("fmt", ids["ptr_const_char"]), ("n", ids["int"])], variadic=True)
    ids["func"] = b.add_func("printk", ids["proto"], "global")
    ids["fnptr"] = b.add_ptr(ids["proto"])
    ids["ptr_arr"] = b.add_ptr(ids["arr"])
    ids["arr_ptr"] = b.add_array(ids["ptr_char"], ids["int"], 4)
    ids["const_ptr"] = b.add_const(ids["ptr_char"])
    ids["var"] = b.add_var("counter", ids["long"], "static")
    ids["datasec"] = b.add_datasec(".data", 8, [(ids["var"], 0, 8)])
    ids["decl_tag"] = b.add_decl_tag("kfunc", ids["func"], -1)
    ids["decl_tag_member"] = b.add_decl_tag("user", ids["hdr"], 1)
    ids["type_tag"] = b.add_type_tag("rcu", ids["hdr"])
    ids["ptr_tagged"] = b.add_ptr(ids["type_tag"])
    ids["proto_void"] = b.add_func_proto(0, [])
    return BTF.from_bytes(b.encode()), ids


@pytest.fixture(scope="module")
def syn():
    return build_all_kinds()


def test_every_kind_decodes(syn):
    btf, ids = syn
    kinds = {btf.type_by_id(i).kind for i in ids.values()}
    assert kinds == {
        "int", "ptr", "array", "struct", "union", "enum", "enum64", "fwd", "typedef", "volatile",
        "const", "restrict", "func", "func_proto", "var", "datasec", "float", "decl_tag", "type_tag",
    }  # fmt: skip
    assert sum(btf.kind_counts().values()) == len(ids) == len(btf) - 1


def test_int_encoding(syn):
    btf, ids = syn
    i, c, bo, u = (btf.type_by_id(ids[k]) for k in ("int", "char", "bool", "uint"))
    assert (i.size, i.bits, i.signed, i.is_char, i.is_bool) == (4, 32, True, False, False)
    assert c.is_char and c.signed and bo.is_bool and not u.signed


def test_enums_and_signedness(syn):
    btf, ids = syn
    assert btf.enum("color").values == {"RED": 0, "GREEN": 1, "NEG": -5}
    assert btf.enum("flags").values == {"A": 1, "B": 0x80000000} and not btf.enum("flags").signed
    big = btf.enum("big")
    assert isinstance(big, t.Enum64) and big.signed and big.values == {"X": 1 << 40, "M": -1}
    assert btf.enum("ubig").values == {"Y": (1 << 64) - 1}
    assert btf.enum_value("GREEN") == 1


def test_struct_bitfields_and_anonymous_members(syn):
    btf, ids = syn
    hdr = btf.struct("hdr")
    assert [(m.name, m.bit_offset, m.bitfield_size) for m in hdr.members[:3]] == [("ihl", 0, 4), ("version", 4, 4), ("tos", 8, 0)]
    assert hdr.member("whole").offset == 8 and hdr.member("lo").offset == 8
    assert btf.offsetof("hdr", "name[2]") == 18
    assert str(hdr.member("version")) == "unsigned char version : 4"
    mp = btf.member("outer", "h->version")
    assert mp.chain == (0,) and mp.bit_offset == 4 and mp.bitfield_size == 4
    assert btf.member("outer", "h.whole").offset == 8
    assert btf.member("outer", "h[1].tos").chain == (0,) and btf.member("outer", "h[1].tos").offset == 32 + 1
    with pytest.raises(BTFError, match="not a struct or union"):
        btf.member("outer", "u.x")
    with pytest.raises(BTFError, match="bad member path"):
        btf.member("outer", "h..x")
    with pytest.raises(KeyError, match="did you mean 'version'"):
        btf.member("outer", "h.versio")


def test_forward_declarations(syn):
    btf, ids = syn
    assert str(btf.type_by_id(ids["fwd"])) == "struct opaque"
    assert str(btf.type_by_id(ids["fwd_union"])) == "union opaque_u"
    with pytest.raises(BTFError, match="no size"):
        btf.sizeof(btf.type_by_id(ids["fwd"]))


def test_func_and_proto(syn):
    btf, ids = syn
    f = btf.func("printk")
    assert f.linkage == "global" and f.proto.variadic
    assert [(n, str(ty)) for n, ty in f.proto.params] == [("fmt", "const char *"), ("n", "int")]
    assert str(f) == "int printk(const char *fmt, int n, ...)"
    assert str(btf.type_by_id(ids["proto_void"])) == "void (void)"


def test_var_datasec_tags(syn):
    btf, ids = syn
    v = btf.var("counter")
    assert v.linkage == "static" and str(v.type) == "long"
    ds = btf.type_by_id(ids["datasec"])
    assert ds.size == 8 and [(x.type_id, x.offset, x.size) for x in ds.vars] == [(ids["var"], 0, 8)]
    tag = btf.type_by_id(ids["decl_tag"])
    assert tag.component_idx == -1 and tag.target is f_or(btf, "printk")
    assert btf.type_by_id(ids["decl_tag_member"]).component_idx == 1
    tt = btf.type_by_id(ids["type_tag"])
    assert tt.kind == "type_tag" and tt.name == "rcu" and tt.resolve() is btf.struct("hdr")
    assert str(btf.type_by_id(ids["ptr_tagged"])) == 'struct hdr __attribute__((btf_type_tag("rcu"))) *'


def f_or(btf, name):
    return btf.func(name)


@pytest.mark.parametrize(
    "key,text",
    [("ptr_char", "char *"), ("ptr_const_char", "const char *"), ("arr", "char[16]"),
     ("volatile", "volatile int"), ("restrict", "char *restrict"), ("typedef", "u32"),
     ("fnptr", "int (*)(const char *fmt, int n, ...)"), ("ptr_arr", "char (*)[16]"),
     ("arr_ptr", "char *[4]"), ("const_ptr", "char *const"), ("float", "double"),
     ("ptr_hdr", "struct hdr *"), ("inner", "union {...}")],
)  # fmt: skip
def test_c_rendering(syn, key, text):
    btf, ids = syn
    assert str(btf.type_by_id(ids[key])) == text


def test_sizeof(syn):
    btf, ids = syn
    assert btf.sizeof("hdr") == 32 and btf.sizeof("u32") == 4 and btf.sizeof(ids["arr_ptr"]) == 32
    assert btf.sizeof("struct hdr *") == 8 and btf.sizeof(ids["var"]) == 8
    with pytest.raises(BTFError, match="no size"):
        btf.sizeof(ids["func"])


def test_find_preference_and_errors(syn):
    btf, _ = syn
    with pytest.raises(BTFNotFoundError, match="did you mean 'hdr'"):
        btf.struct("hdrr")
    with pytest.raises(KeyError):
        btf.func("hdr")
    assert [x.kind for x in btf.find_all("hdr")] == ["struct"]


def test_split_btf_on_synthetic_base(syn):
    base, ids = syn
    b = BTFBuilder(base=base)
    sid = b.add_struct("mod_state", 16, [("hdr", ids["ptr_hdr"], 0), ("count", ids["long"], 64)])
    fid = b.add_func("mod_init", b.add_func_proto(ids["int"], [("st", b.add_ptr(sid))]))
    split = BTF.from_bytes(b.encode(), base=base)
    assert split.first_id == len(base) and len(split) == len(base) + 4
    st = split.struct("mod_state")
    assert st.id == sid and str(st.member("hdr").type) == "struct hdr *"
    assert split.member("mod_state", "hdr->version").bitfield_size == 4
    assert split.struct("hdr") is base.struct("hdr")  # base types come from the base
    assert str(split.type_by_id(fid)) == "int mod_init(struct mod_state *st)"
    assert split.kind_counts() == {"struct": 1, "func": 1, "func_proto": 1, "ptr": 1}
    alone = BTF.from_bytes(b.encode())  # split BTF read without its base
    with pytest.raises(BTFError, match="outside the string section"):
        alone.type_by_id(1)


def test_split_btf_on_kernel(kbtf):
    b = BTFBuilder(base=kbtf)
    task = kbtf.struct("task_struct")
    ptr = b.add_ptr(task.id)
    sid = b.add_struct("my_mod_info", 16, [("owner", ptr, 0), ("refs", kbtf.find("int", "int").id, 64)])
    split = BTF.from_bytes(b.encode(), base=kbtf)
    assert split.type_by_id(sid).name == "my_mod_info"
    assert split.member("my_mod_info", "owner->pid").offset == kbtf.offsetof("task_struct", "pid")
    assert split.find("task_struct") is task
    # a name in the split BTF's own strings that the base also uses
    b2 = BTFBuilder(base=kbtf)
    own = b2.add_struct("task_struct", 4, [])
    split2 = BTF.from_bytes(b2.encode(), base=kbtf)
    assert [x.id for x in split2.find_all("task_struct", "struct")] == [task.id, own]
