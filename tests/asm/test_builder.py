"""The Python builder, label resolution, and helper ids."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pybpf import asm
from pybpf.asm import R0, R1, R2, R3, R6, R10, AsmError, Instruction


@dataclass
class FakeMap:
    fd: int
    name: str


def test_builder_matches_text() -> None:
    counts = FakeMap(3, "counts")
    items = [
        asm.mov(R6, R1),
        asm.st("u32", R10, -4, 0),
        asm.mov(R2, R10),
        asm.add(R2, -4),
        asm.ld_map(R1, counts),
        asm.call("bpf_map_lookup_elem"),
        asm.jeq(R0, 0, "out"),
        asm.mov(R1, 1),
        asm.atomic_add("u64", R0, 0, R1),
        asm.atomic_add("u64", R0, 0, R1, fetch=True),
        asm.atomic_xchg("u32", R0, 8, R1),
        asm.atomic_cmpxchg("u64", R0, 0, R2),
        asm.ldx("u32", R3, R6, 4),
        asm.ldx("s16", R3, R6, 4),
        asm.stx("u64", R10, -16, R3),
        asm.mov32(R0, -1),
        asm.sdiv(R0, R3),
        asm.smod32(R0, 7),
        asm.movsx(R1, R3, 32),
        asm.movsx32(R1, R3, 8),
        asm.neg(R1),
        asm.be(R1, 16),
        asm.bswap(R1, 64),
        asm.jsgt32(R1, R2, "out"),
        asm.jset(R1, 0x10, "out"),
        asm.ld_imm64(R2, 0xDEADBEEFCAFE),
        asm.gotol("out"),
        asm.label("out"),
        asm.mov(R0, 0),
        asm.exit(),
    ]
    text = """
        r6 = r1
        *(u32 *)(r10 -4) = 0
        r2 = r10
        r2 += -4
        r1 = map[counts] ll
        call bpf_map_lookup_elem#1
        if r0 == 0x0 goto out
        r1 = 1
        lock *(u64 *)(r0 +0) += r1
        r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)
        r1 = atomic_xchg((u32 *)(r0 +8), r1)
        r0 = atomic64_cmpxchg((u64 *)(r0 +0), r0, r2)
        r3 = *(u32 *)(r6 +4)
        r3 = *(s16 *)(r6 +4)
        *(u64 *)(r10 -16) = r3
        w0 = -1
        r0 s/= r3
        w0 s%= 7
        r1 = (s32)r3
        w1 = (s8)w3
        r1 = -r1
        r1 = be16 r1
        r1 = bswap64 r1
        if w1 s> w2 goto out
        if r1 & 0x10 goto out
        r2 = 0xdeadbeefcafe ll
        gotol out
    out:
        r0 = 0
        exit
    """
    built = asm.resolve(items)
    assert built == asm.assemble(text, {"counts": counts})
    assert built[6].off == 21 and built[6].target == "out"  # slot 7 -> out at slot 29
    assert built[4].map is counts


def test_builder_sizes_and_operands() -> None:
    assert asm.ldx("w", R0, R1) == asm.ldx("u32", R0, R1) == asm.ldx(4, R0, R1)
    assert asm.ldx("dw", R0, R1, 8) == Instruction(0x79, 0, 1, 8)
    assert asm.mov(R0, 5) == Instruction(0xB7, 0, 0, 0, 5)  # int = immediate
    assert asm.mov(R0, asm.R5) == Instruction(0xBF, 0, 5)
    with pytest.raises(AsmError, match="access size"):
        asm.stx("s32", R10, -4, R1)
    with pytest.raises(AsmError, match="access size"):
        asm.ldx("u128", R0, R1)
    with pytest.raises(AsmError, match="R0..R10"):
        asm.mov(11, 1)
    with pytest.raises(AsmError, match="operand"):
        asm.add(R0, "1")  # type: ignore[arg-type]
    with pytest.raises(AsmError, match="32 or 64"):
        asm.atomic_add("u16", R0, 0, R1)
    with pytest.raises(AsmError):
        asm.movsx32(R0, R1, 32)
    with pytest.raises(AsmError):
        asm.ld_abs("u64", 0)


def test_resolve_errors() -> None:
    with pytest.raises(AsmError, match="unknown label 'nope'"):
        asm.resolve([asm.ja("nope"), asm.exit()])
    with pytest.raises(AsmError, match="duplicate label 'a'"):
        asm.resolve([asm.label("a"), asm.exit(), asm.label("a"), asm.exit()])
    far = [asm.jeq(R1, 0, "far"), *[asm.mov(R0, 0)] * 32768, asm.label("far"), asm.exit()]
    with pytest.raises(AsmError, match="out of range"):
        asm.resolve(far)
    with pytest.raises(AsmError, match="does not take a label"):
        asm.resolve([Instruction(0xB7, target="x"), asm.label("x")])
    with pytest.raises(AsmError, match="Instruction or Label"):
        asm.resolve(["exit"])  # type: ignore[list-item]


def test_int_targets_and_local_calls() -> None:
    insns = asm.resolve([
        asm.call_local("f"), asm.ld_func(R2, "f"), asm.exit(), asm.label("f"), asm.exit(),
    ])
    # like the kernel, a BPF_PSEUDO_FUNC target is its first slot + imm + 1
    assert insns[0].imm == 3 and insns[1].imm == 2
    assert asm.ja(-1) == Instruction(0x05, off=-1)
    assert asm.call_local(2) == asm.assemble("call pc+2")[0]
    assert asm.call_kfunc(777, 1) == asm.assemble("call kfunc#777@1")[0]
    assert asm.may_goto(4) == asm.assemble("may_goto pc+4")[0]


def test_helper_ids() -> None:
    assert asm.helper_id("map_lookup_elem") == 1
    assert asm.helper_id("bpf_map_lookup_elem") == 1
    assert asm.helper_id("BPF_FUNC_ktime_get_ns") == 5
    assert asm.helper_name(14) == "bpf_get_current_pid_tgid"
    assert asm.helper_name(asm.helper_id("ringbuf_output")) == "bpf_ringbuf_output"
    with pytest.raises(AsmError):
        asm.helper_id("no_such_helper")
    with pytest.raises(AsmError):
        asm.helper_name(100000)
    with pytest.raises(AsmError):
        asm.helper_id("unspec")


def test_builtin_helper_table_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from pybpf.asm import helper_names, helpers

    assert len(helper_names.HELPER_NAMES) == 212
    assert helper_names.HELPER_NAMES[1] == "map_lookup_elem"
    assert helper_names.HELPER_NAMES[211] == "cgrp_storage_delete"

    def broken() -> None:
        raise OSError("no BTF here")

    import pybpf.btf

    monkeypatch.setattr(pybpf.btf, "kernel_btf", broken, raising=False)
    helpers.helper_table.cache_clear()
    helpers._names_by_id.cache_clear()
    try:
        assert asm.helper_id("get_current_pid_tgid") == 14
        assert asm.helper_name(211) == "bpf_cgrp_storage_delete"
    finally:
        helpers.helper_table.cache_clear()
        helpers._names_by_id.cache_clear()


def test_kernel_btf_agrees_with_builtin_table() -> None:
    from pybpf.asm import helper_names

    try:
        from pybpf.btf import kernel_btf

        values = kernel_btf().enum("bpf_func_id").values
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"kernel BTF not readable: {exc}")
    for i, name in enumerate(helper_names.HELPER_NAMES):
        assert values[f"BPF_FUNC_{name}"] == i


def test_str_of_instruction_is_kernel_syntax() -> None:
    assert str(asm.call("ktime_get_ns")) == "call bpf_ktime_get_ns#5"
    assert str(asm.stx("u64", R10, -8, R1)) == "*(u64 *)(r10 -8) = r1"
    assert str(R10) == "r10"


def test_kfunc_by_name() -> None:
    try:
        from pybpf.btf import kernel_btf

        want = kernel_btf().func("bpf_obj_new_impl").id
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"kernel BTF has no bpf_obj_new_impl: {exc}")
    assert asm.kfunc_id("bpf_obj_new_impl") == want
    call = asm.call_kfunc("bpf_obj_new_impl")
    assert call == Instruction(0x85, 0, 2, 0, want)
    assert asm.assemble("call bpf_obj_new_impl") == [call]
    assert asm.assemble(f"call bpf_obj_new_impl#{want}") == [call]  # as the verifier prints
    with pytest.raises(AsmError, match="unknown kernel function"):
        asm.kfunc_id("no_such_kfunc_at_all")
