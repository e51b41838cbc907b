"""CO-RE paths through anonymous struct/union members (libbpf leaves them out of the named
path and searches the kernel's type through its own anonymous members), TYPE_MATCHES, and
`__ksym` externs: kfunc calls, __weak kfuncs and variables with bpf_ksym_exists(), untyped
ksyms from /proc/kallsyms, typed variables by kernel BTF id."""

from __future__ import annotations

import os
import socket

import pytest

from pybpf.btf import BTF, BTFBuilder, kernel_btf
from pybpf.elf import ElfError, Object, core
from pybpf.elf.core import CoreKind
from pybpf.elf.insns import PSEUDO_BTF_ID, PSEUDO_KFUNC_CALL, get
from pybpf.elf.ksyms import POISON_KFUNC_BASE
from tests.elf.build import build, build_source
from tests.util import requires_root


@requires_root
def test_sock_common_fields_through_anonymous_members(no_leaks):
    """The client socket of a loopback connection, read by CO-RE through local flavours
    whose anonymous members differ from the kernel's: port, addresses, family and two
    bitfields match what the socket and the tracepoint's own fields say."""
    srv = socket.socket()
    cli = socket.socket()
    try:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        with Object.open(build("anon")) as obj:
            obj.rodata.target_dport = socket.htons(port)
            obj.load()
            obj.attach_all()
            cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            cli.connect(("127.0.0.1", port))
            s = obj.maps.seen[0]
        local_port = cli.getsockname()[1]
    finally:
        cli.close()
        srv.close()
    k = kernel_btf()
    loopback = int.from_bytes(socket.inet_aton("127.0.0.1"), "little")
    assert s["count"] == 1
    assert s["family"] == s["tp_family"] == socket.AF_INET
    assert s["num"] == s["tp_sport"] == local_port
    assert s["dport"] == socket.htons(port) and s["tp_dport"] == port
    assert s["rcv_saddr"] == s["daddr"] == loopback
    assert (s["reuse"], s["reuseport"]) == (1, 1)
    assert s["dport_size"] == 2
    assert s["dport_offset"] == k.offsetof("sock_common", "skc_dport")
    assert (s["daddr_exists"], s["missing_exists"]) == (1, 0)


def test_anonymous_path_offsets_against_the_kernel():
    """Every field of the flavour resolves to the kernel's offset (not the local one)."""
    obj = Object.open(build("anon"))
    local, k = obj.btf, kernel_btf()
    assert local is not None
    sock = local.find("sock___l", "struct")
    common = local.find("sock_common___l", "struct")
    paths = {"skc_family": "0:1:0", "skc_num": "0:1:1:0:0", "skc_dport": "0:1:1:0:1",
             "skc_rcv_saddr": "0:1:2:0", "skc_daddr": "0:1:2:1:0"}
    for field, access in paths.items():
        assert core._local_spec(local, sock, access).path.endswith(field)
        res = core.resolve(local, k, sock.id, access, CoreKind.FIELD_BYTE_OFFSET)
        assert not res.poison, res.reason
        assert res.target == k.offsetof("sock_common", field)  # __sk_common is at 0
        assert res.local == 8 + common.member(field).offset
    res = core.resolve(local, k, sock.id, "0:1:4", CoreKind.FIELD_BYTE_OFFSET)
    assert res.poison and "skc_not_in_kernel___" in res.reason


def _anon_target() -> BTF:
    b = BTFBuilder()
    u16 = b.add_int("unsigned short", 2)
    u32 = b.add_int("unsigned int", 4)
    ports = b.add_struct("", 4, [("dport", u16, 0), ("num", u16, 16)])
    pair = b.add_union("", 4, [("portpair", u32, 0), ("", ports, 0)])
    common = b.add_struct("common", 12, [("hash", u32, 0), ("", pair, 32), ("family", u16, 64)])
    b.add_struct("sk", 16, [("pad", u32, 0), ("c", common, 32)])
    return BTF.from_bytes(b.encode())


def _anon_local() -> tuple[BTF, int]:
    b = BTFBuilder()
    u16 = b.add_int("unsigned short", 2)
    u32 = b.add_int("unsigned int", 4)
    inner = b.add_struct("", 4, [("num", u16, 0), ("dport", u16, 16)])
    anon = b.add_union("", 4, [("", inner, 0)])
    common = b.add_struct("common___l", 8, [("", anon, 0), ("family", u16, 32)])
    sk = b.add_struct("sk___l", 8, [("c", common, 0), ("hash", u32, 32)])
    return BTF.from_bytes(b.encode()), sk


def test_resolver_skips_local_anonymous_members():
    local, sk = _anon_local()
    target = _anon_target()

    def off(access: str) -> core.Resolution:
        return core.resolve(local, target, sk, access, CoreKind.FIELD_BYTE_OFFSET)

    assert (off("0:0:0:0:1").local, off("0:0:0:0:1").target) == (2, 4 + 4)  # c.dport
    assert (off("0:0:0:0:0").local, off("0:0:0:0:0").target) == (0, 4 + 6)  # c.num
    assert off("0:0:1").target == 4 + 8  # c.family
    assert core.resolve(local, target, sk, "0:0:0:0:1", CoreKind.FIELD_EXISTS).target == 1
    assert core.resolve(local, target, sk, "0:0:0:0:1", CoreKind.FIELD_BYTE_SIZE).target == 2
    assert off("0:1").poison  # "hash" is in sk___l but in the target's common, not its sk


def test_type_matches():
    b = BTFBuilder()
    u32 = b.add_int("unsigned int", 4)
    s32 = b.add_int("int", 4, signed=True)
    b.add_struct("pair", 8, [("a", u32, 0), ("b", u32, 32), ("c", u32, 64)])
    b.add_enum("mode", {"ON": 1, "OFF": 0})
    target = BTF.from_bytes(b.encode())
    lb = BTFBuilder()
    lu32 = lb.add_int("unsigned int", 4)
    ls32 = lb.add_int("int", 4, signed=True)
    good = lb.add_struct("pair___a", 8, [("b", lu32, 0)])  # a subset, in another order
    signed = lb.add_struct("pair___b", 8, [("a", ls32, 0)])
    missing = lb.add_struct("pair___c", 8, [("z", lu32, 0)])
    enum_ok = lb.add_enum("mode___x", {"OFF": 0})
    enum_bad = lb.add_enum("mode___y", {"AUTO": 2})
    local = BTF.from_bytes(lb.encode())
    del s32, u32

    def matches(tid: int) -> int:
        return core.resolve(local, target, tid, "0", CoreKind.TYPE_MATCHES).target

    assert [matches(t) for t in (good, signed, missing, enum_ok, enum_bad)] == [1, 0, 0, 1, 0]
    assert core.resolve(local, target, signed, "0", CoreKind.TYPE_EXISTS).target == 1


@requires_root
def test_kfuncs_weak_and_untyped_ksyms(no_leaks):
    with Object.open(build("ksyms")) as obj:
        obj.rodata.target_pid = os.getpid()
        obj.rodata.upto = 7
        obj.load()
        assert obj.btf_load_error is None  # the .ksyms fix-ups keep the BTF loadable
        obj.attach_all()
        os.getsid(0)
        r = obj.maps.results[0]
    stext = next(int(line.split()[0], 16) for line in open("/proc/kallsyms")
                 if line.split()[2] == "_stext")
    assert r["sum"] == sum(range(7))  # bpf_iter_num_new/next/destroy ran
    assert r["stext"] == stext
    assert r["has_missing"] == 0 and r["has_var"] == 0
    assert r["has_rcu"] == 1 and r["pid"] == os.getpid()


def test_kfunc_calls_are_linked_by_kernel_btf_id():
    from pybpf.elf.loader import _link, _Target

    obj = Object.open(build("ksyms"))
    k = kernel_btf()
    linked = _link(obj, obj.programs.use_ksyms, _Target(obj))
    calls = {}
    for i in range(len(linked.code) // 8):
        code, _, src, off, imm = get(linked.code, i)
        if code == 0x85 and src == PSEUDO_KFUNC_CALL:
            calls[k.type_by_id(imm).name] = off
    assert set(calls) == {"bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy",
                          "bpf_rcu_read_lock", "bpf_rcu_read_unlock"}
    assert set(calls.values()) == {0}  # vmlinux
    poisoned = [i for i in range(len(linked.code) // 8)
                if get(linked.code, i)[0] == 0x85
                and get(linked.code, i)[4] >= POISON_KFUNC_BASE]
    assert len(poisoned) == 1 and [f.slot for f in linked.core_failures] == poisoned


TYPED_VAR = """
#include "bpf_helpers.h"
struct rq { int cpu; } __core;
extern const struct rq runqueues __attribute__((section(".ksyms")));
static void *(*bpf_this_cpu_ptr)(const void *percpu_ptr) = (void *)154;
__u32 cpu;
SEC("tp/syscalls/sys_enter_getsid")
int typed(void *ctx)
{
	struct rq *rq = bpf_this_cpu_ptr(&runqueues);
	BPF_CORE_READ_INTO(&cpu, rq, cpu);
	return 0;
}
"""


def test_typed_ksym_is_a_btf_id_load():
    """(Loading it needs the variable in /proc/kallsyms, CONFIG_KALLSYMS_ALL.)"""
    from pybpf.elf.loader import _link, _Target

    obj = Object.open(build_source("typed_ksym", TYPED_VAR))
    linked = _link(obj, obj.programs.typed, _Target(obj))
    loads = [get(linked.code, i) for i in range(len(linked.code) // 8)
             if get(linked.code, i)[0] == 0x18 and get(linked.code, i)[2] == PSEUDO_BTF_ID]
    assert len(loads) == 1
    assert kernel_btf().type_by_id(loads[0][4]).name == "runqueues"


MISMATCH = """
#include "bpf_helpers.h"
extern int bpf_iter_num_new(int a) __attribute__((section(".ksyms")));
SEC("tp/syscalls/sys_enter_getsid")
int wrong(void *ctx) { return bpf_iter_num_new(1); }
"""

MISSING = """
#include "bpf_helpers.h"
extern void bpf_no_such_kfunc___(void) __attribute__((section(".ksyms")));
SEC("tp/syscalls/sys_enter_getsid")
int missing(void *ctx) { bpf_no_such_kfunc___(); return 0; }
"""

UNGUARDED = """
#include "bpf_helpers.h"
extern void bpf_no_such_kfunc___(void) __attribute__((section(".ksyms"), weak));
SEC("tp/syscalls/sys_enter_getsid")
int unguarded(void *ctx) { bpf_no_such_kfunc___(); return 0; }
"""


@requires_root
@pytest.mark.parametrize("name, source, message", [
    ("kfunc_mismatch", MISMATCH, r"extern 'bpf_iter_num_new' does not match the kernel's: "
                                 r"1 parameters declared, the kernel's function has 3"),
    ("kfunc_missing", MISSING, r"extern 'bpf_no_such_kfunc___' cannot be resolved: the "
                               r"kernel's BTF has no function bpf_no_such_kfunc___"),
    ("kfunc_unguarded", UNGUARDED, r"program 'unguarded': CO-RE relocation of call to kfunc "
                                   r"bpf_no_such_kfunc___ .*failed: the kernel has no such"),
])
def test_bad_kfuncs_are_one_clear_error(name, source, message, no_leaks):
    with Object.open(build_source(name, source)) as obj, pytest.raises(ElfError,
                                                                       match=message):
        obj.load()
