"""Program load, verifier errors, test_run and statistics against the real kernel."""

from __future__ import annotations

import struct

import pytest

from pybpf import NotSupportedError, Program, VerifierError, asm, maps
from pybpf.program import enable_stats
from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.usefixtures("no_leaks")]


def test_load_and_test_run_returns_r0():
    with Program.load("socket_filter", asm.assemble("r0 = 42\nexit"), name="answer") as p:
        res = p.test_run(data=b"\0" * 64)
        assert res.retval == 42
        assert res.duration_ns >= 0
        assert p.name == "answer" and p.id > 0
    assert p.closed


def test_raw_bytecode_is_accepted():
    code = struct.pack("<BBhiBBhi", 0xB7, 0, 0, 7, 0x95, 0, 0, 0)
    with Program.load("socket_filter", code) as p:
        assert p.test_run(b"\0" * 14).retval == 7


def test_xdp_test_run_returns_packet():
    text = """
        r2 = *(u32 *)(r1 +4)   ; data_end
        r1 = *(u32 *)(r1 +0)   ; data
        r3 = r1
        r3 += 1
        if r3 > r2 goto out
        r4 = 0x5a
        *(u8 *)(r1 +0) = r4
    out:
        r0 = 2                 ; XDP_PASS
        exit
    """
    with Program.load("xdp", asm.assemble(text)) as p:
        res = p.test_run(data=b"\0" * 60)
        assert res.retval == 2
        assert res.data[:1] == b"\x5a" and len(res.data) == 60


def test_syscall_program_context_is_written_back():
    text = """
        r2 = *(u32 *)(r1 +0)
        r2 *= 3
        *(u32 *)(r1 +4) = r2
        r0 = 0
        exit
    """
    with Program.load("syscall", asm.assemble(text)) as p:
        res = p.test_run(ctx=struct.pack("<II", 14, 0))
        assert struct.unpack("<II", res.ctx) == (14, 42)


def test_verifier_error_names_the_instruction():
    text = "r0 = 1\nr0 = r2\nexit"  # r2 is never written
    with pytest.raises(VerifierError) as err:
        Program.load("socket_filter", asm.assemble(text), name="bad_prog")
    e = err.value
    assert e.insn_index == 1
    assert "instruction 1" in str(e) and "`r0 = r2`" in str(e)
    assert "R2 !read_ok" in str(e)
    assert "bad_prog" in str(e)
    assert "processed" in e.log  # the whole log is kept


def test_verifier_error_for_unchecked_map_value():
    with maps.Hash(key="u32", value="u64", max_entries=4) as m:
        text = """
            r1 = 0
            *(u32 *)(r10 -4) = r1
            r2 = r10
            r2 += -4
            r1 = map[counts] ll
            call bpf_map_lookup_elem
            r0 = *(u64 *)(r0 +0)
            exit
        """
        with pytest.raises(VerifierError, match=r"instruction 7 .*map_value_or_null"):
            Program.load("socket_filter", asm.assemble(text, maps={"counts": m}))


def test_large_log_grows_the_buffer():
    # log_level 2 on a long program produces more than the first 64 KiB buffer
    body = "r0 += 1\n" * 3000
    with Program.load("socket_filter", asm.assemble("r0 = 0\n" + body + "exit"),
                      log_level=2) as p:
        assert len(p.log) > 1 << 16
        assert "processed" in p.log


def test_program_keeps_its_maps_alive():
    m = maps.Array(value="u64", max_entries=1)
    text = """
        r1 = 0
        *(u32 *)(r10 -4) = r1
        r2 = r10
        r2 += -4
        r1 = map[a] ll
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 +0) += r1
    out:
        r0 = 0
        exit
    """
    p = Program.load("socket_filter", asm.assemble(text, maps={"a": m}))
    p.test_run(b"\0" * 14, repeat=5)
    assert m[0] == 5
    p.close()
    m.close()


def test_stats_count_runs_when_enabled():
    text = "r0 = 0\nexit"
    with enable_stats(), Program.load("socket_filter", asm.assemble(text)) as p:
        # test_run does not update run stats; run it through a real socket instead
        import socket

        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            a.setsockopt(socket.SOL_SOCKET, 50, p.fd.fileno())  # SO_ATTACH_BPF
            for _ in range(3):
                b.send(b"x")
            st = p.stats()
        finally:
            a.close()
            b.close()
        assert st.run_cnt == 3
        assert st.run_time_ns > 0 and st.ns_per_run > 0


def test_xlated_code_is_readable():
    with Program.load("socket_filter", asm.assemble("r0 = 3\nexit")) as p:
        assert asm.disassemble(asm.decode(p.xlated())).splitlines() == ["r0 = 3", "exit"]


def test_percpu_array_from_a_program_on_each_cpu():
    ncpu = maps.possible_cpus()
    with maps.PerCPUArray(value="u64", max_entries=1) as pc:
        text = """
            r1 = 0
            *(u32 *)(r10 -4) = r1
            r2 = r10
            r2 += -4
            r1 = map[pc] ll
            call bpf_map_lookup_elem
            if r0 == 0 goto out
            r1 = *(u64 *)(r0 +0)
            r1 += 1
            *(u64 *)(r0 +0) = r1
        out:
            r0 = 0
            exit
        """
        with Program.load("raw_tracepoint", asm.assemble(text, maps={"pc": pc})) as p:
            for cpu in range(ncpu):
                for _ in range(cpu + 1):
                    p.test_run(ctx=b"\0" * 8, cpu=cpu)
        assert pc[0] == [cpu + 1 for cpu in range(ncpu)]


def test_bad_program_type_and_empty_program():
    with pytest.raises(ValueError, match="unknown program type 'socketfilter'"):
        Program.load("socketfilter", b"")
    with pytest.raises(ValueError, match="empty program"):
        Program.load("socket_filter", b"")


def test_test_run_unsupported_type_is_clear():
    with Program.load("tracepoint", asm.assemble("r0 = 0\nexit")) as p:
        with pytest.raises(NotSupportedError, match="BPF_PROG_TEST_RUN is not supported "
                                                    "for tracepoint"):
            p.test_run(ctx=b"\0" * 8)
