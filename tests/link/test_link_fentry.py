"""fentry / fexit / fmod_ret / tp_btf and kprobe_multi on this kernel: what works attaches
and counts; what is missing says so with a sentence naming the alternative. (The same hooks
working on Debian 12's 6.1: tests/vm/test_link_vm.py.)"""

from __future__ import annotations

import os

import pytest

from pybpf import NotSupportedError, Program, asm, attach, features
from pybpf.btf import kernel_btf
from pybpf.link import AttachError, UnknownTargetError, btf_ids, load_tracing
from pybpf.link.kprobe_multi import expand, multi_attach_type
from pybpf.link.tracing import kind_of, trace
from pybpf.sys import AttachType, LinkType
from tests.link.linkkit import needs_root

pytestmark = needs_root

RETURN_ZERO = "r0 = 0\nexit"
GETPGID_NR = 121  # x86-64

SYS_ENTER_GETPGID = f"""
    r6 = *(u64 *)(r1 +8)
    if r6 != {GETPGID_NR} goto out
    call bpf_get_current_pid_tgid
    r0 >>= 32
    if r0 != {{pid}} goto out
    r1 = 0
    *(u32 *)(r10 -4) = r1
    r2 = r10
    r2 += -4
    r1 = map[COUNTS] ll
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
out:
    r0 = 0
    exit
"""


def code(text: str = RETURN_ZERO, **maps: object) -> list[object]:
    return list(asm.assemble(text, maps=maps))


# --- BTF targets -----------------------------------------------------------------------
def test_btf_id_of_a_function_and_a_tracepoint():
    target = btf_ids.function("vfs_read")
    assert target.btf_id == kernel_btf().find("vfs_read", "func").id
    assert target.module is None and str(target) == "vfs_read"
    assert [p.name for p in target.proto.params] == ["file", "buf", "count", "pos"]
    tp = btf_ids.tracepoint("sched:sched_switch")
    assert tp.btf_id == kernel_btf().find("btf_trace_sched_switch", "typedef").id


def test_ctx_layout_of_tracing_programs():
    # fentry/fexit context: u64 per argument, then (fexit, fmod_ret) the return value
    args = btf_ids.function("vfs_read").ctx_args()
    assert [(a.name, a.offset, a.slots) for a in args] == [
        ("file", 0, 1), ("buf", 8, 1), ("count", 16, 1), ("pos", 24, 1)]
    assert btf_ids.function("vfs_read").ret_offset == 32
    # tp_btf: the tracepoint's arguments without its leading ctx
    tp = {a.name: a.offset for a in btf_ids.tracepoint("sched_switch").ctx_args()}
    assert tp["prev"] == 8 and tp["next"] == 16


def test_unknown_function_did_you_mean():
    with pytest.raises(UnknownTargetError, match="unknown kernel function 'vfs_reed'.*"
                                                 "did you mean 'vfs_read'"):
        btf_ids.function("vfs_reed")
    with pytest.raises(UnknownTargetError, match="no_such_module"):
        btf_ids.function("no_such_module:vfs_read")


def test_unknown_tracepoint_did_you_mean():
    with pytest.raises(UnknownTargetError, match="'sched_swich'.*did you mean 'sched_switch'"):
        load_tracing("tp_btf", code(), "sched_swich")


def test_unknown_kind():
    with pytest.raises(ValueError, match="fentry, fexit, fmod_ret, tp_btf"):
        load_tracing("fretry", code(), "vfs_read")
    assert kind_of(AttachType.TRACE_FEXIT) == "fexit" and kind_of(AttachType.XDP) is None


# --- fentry / fexit / fmod_ret ---------------------------------------------------------
@pytest.mark.skipif(features.has("fentry"), reason="this kernel has fentry")
@pytest.mark.parametrize("kind", ["fentry", "fexit"])
def test_fentry_fexit_not_supported_here(kind, no_leaks):
    with pytest.raises(NotSupportedError, match="fentry/fexit are not available on this kernel"
                                                ".*use kprobes or tracepoints"):
        load_tracing(kind, code(), "vfs_read")


@pytest.mark.skipif(features.has("fmod_ret"), reason="this kernel has fmod_ret")
def test_fmod_ret_not_supported_here(no_leaks):
    with pytest.raises(NotSupportedError, match="not available on this kernel"):
        trace("fmod_ret", code(), "security_task_getsid")


@pytest.mark.skipif(not features.has("fentry"), reason="no fentry here (see the VM tests)")
def test_fentry_attaches_here(no_leaks):
    prog, link = trace("fentry", code(), "vfs_read")
    with prog, link:
        assert link.link_type == LinkType.TRACING


# --- tp_btf ----------------------------------------------------------------------------
@pytest.mark.skipif(not features.has("tp_btf"), reason=str(features.why_missing("tp_btf")))
def test_tp_btf_counts_sys_enter(no_leaks):
    from pybpf import maps

    counts = maps.Array(key="u32", value="u64", max_entries=1)
    insns = code(SYS_ENTER_GETPGID.format(pid=os.getpid()), COUNTS=counts)
    prog = load_tracing("tp_btf", insns, "raw_syscalls:sys_enter")
    assert prog.attach_kind == "tp_btf" and prog.attach_target == "sys_enter"
    with prog, attach.tp_btf(prog) as link:
        assert link.kind == "tp_btf" and link.target == "sys_enter"
        assert link.id is not None and link.link_type == LinkType.RAW_TRACEPOINT
        for _ in range(9):
            os.getpgid(0)
    assert counts[0] == 9
    os.getpgid(0)
    assert counts[0] == 9  # detached


@pytest.mark.skipif(not features.has("tp_btf"), reason=str(features.why_missing("tp_btf")))
def test_tracing_program_attached_as_another_kind(no_leaks):
    prog = load_tracing("tp_btf", code(), "sched_switch")
    with prog, pytest.raises(AttachError, match="loaded as tp_btf, not fentry"):
        attach.fentry(prog)
    other = Program.load("raw_tracepoint", code())
    with other, pytest.raises(AttachError, match="needs a 'tracing' program"):
        attach.tp_btf(other)


# --- kprobe_multi ----------------------------------------------------------------------
@pytest.mark.skipif(features.has("kprobe_multi") is not False, reason="has kprobe_multi")
def test_kprobe_multi_not_supported_here(no_leaks):
    assert multi_attach_type() is None
    assert "CONFIG_FPROBE" in str(features.why_missing("kprobe_multi"))
    prog = Program.load("kprobe", code())  # one kprobe per function, where kprobes exist
    with prog, pytest.raises(NotSupportedError, match="not available"):
        attach.kprobe_multi(prog, ["vfs_read", "vfs_write"])


def test_kprobe_multi_names():
    assert expand(["a", "b", "a"]) == ["a", "b"]
    assert expand("vfs_read") == ["vfs_read"]
    with pytest.raises(ValueError):
        expand([])


# --- the feature report ------------------------------------------------------------------
def test_feature_report_says_what_is_missing():
    report = features.collect()
    for hook in ("kprobe", "kretprobe", "kprobe_multi", "fentry", "fexit", "fmod_ret", "tp_btf"):
        assert hook in report.hooks
        assert (hook in report.missing) == (report.hooks[hook] is False)
    assert "missing" in report.as_dict()
    if not report.hooks["fentry"]:
        assert "use kprobes or tracepoints" in report.missing["fentry"]
    best = features.best_function_hook()
    assert best in ("fentry", "kprobe", None)
    if not report.hooks["fentry"] and not report.hooks["kprobe"]:
        assert best is None
    assert features.best_tracepoint_hook() in ("tp_btf", "raw_tracepoint")
    assert features.has("fentry") is report.hooks["fentry"]  # cached, same answer
