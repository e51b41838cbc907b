"""@bpf.usdt and attach.usdt against running targets: every argument form (registers of
each width and sign, memory at register offsets, %rip-relative globals, constants) as the
BPF program saw it, at -O0 and -O2; semaphores raised by the kernel while attached (and
only then), and through /proc/PID/mem; one process only with pid=; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf import attach, bpf, maps
from pybpf.compiler.errors import CompileError
from pybpf.link import AttachError
from pybpf.usdt import ProcessSemaphore, find
from pybpf.usdt.semaphore import semaphore_address
from tests.usdt.targets import EXPECTED, Target
from tests.util import requires_root

pytestmark = requires_root

seen = maps.Hash(key="u32", value="u64", max_entries=64)
hits = maps.Hash(key="u32", value="u64", max_entries=8)


def on_regs(ctx, c, w, i, u, tag):
    seen[0] = c
    seen[1] = w
    seen[2] = i
    seen[3] = u
    seen[4] = tag


def on_memory(ctx):
    seen[10] = ctx.arg0
    seen[11] = ctx.arg1
    seen[12] = ctx.arg2


def on_consts(ctx):
    seen[20] = ctx.arg0
    seen[21] = ctx.arg1
    seen[22] = ctx.arg2


def on_global(ctx):
    seen[30] = ctx.arg0


def on_guarded(ctx, v, neg):
    seen[40] = v
    seen[41] = neg
    hits[0] += 1


def on_noargs(ctx):
    hits[1] += 1


BASE = {("app", "regs"): 0, ("app", "memory"): 10, ("app", "consts"): 20,
        ("app", "global"): 30, ("lib", "guarded"): 40}


def test_every_argument_form(built: tuple[Path, Path], no_leaks: None) -> None:
    prog, lib = map(str, built)
    seen.clear()
    hits.clear()
    programs = [bpf.usdt(prog, "app", "regs")(on_regs),
                bpf.usdt(prog, "app", "memory")(on_memory),
                bpf.usdt(prog, "app", "consts")(on_consts),
                bpf.usdt(prog, "app", "global")(on_global),
                bpf.usdt(prog, "app", "noargs")(on_noargs),
                bpf.usdt(lib, "lib", "guarded")(on_guarded)]
    with Target(built[0]) as target:
        attached = [p.attach() for p in programs]
        try:
            assert target.go() == 1  # the semaphore was raised: the guarded probe ran
            assert target.go() == 2
        finally:
            for a in attached:
                a.close()
        target.close()
    got = dict(seen.items())  # u64 values: what the s64 arguments sign-extended to
    for probe, values in EXPECTED.items():
        base = BASE[probe]
        want = [v & (2**64 - 1) for v in values]
        assert [got.get(base + i) for i in range(len(values))] == want, probe
    assert hits[0] == 2 and hits[1] == 2


def test_types_follow_the_spec(built_o2: tuple[Path, Path]) -> None:
    """arg0 of app:regs is an int8 (sign-extends), arg1 a uint16: -5 < 0 and w > 0."""
    prog = str(built_o2[0])

    def typed(ctx):
        if ctx.arg0 < 0:
            hits[2] += 1
        if ctx.arg2 < -99999:
            hits[3] += 1
        if ctx.arg3 > 0:  # the u64 0xfff...f0 compares unsigned
            hits[4] += 1

    hits.clear()
    p = bpf.usdt(prog, "app", "regs")(typed)
    with Target(built_o2[0]) as target:
        with p.attach():
            target.go()
        target.close()
    assert (hits.get(2, 0), hits.get(3, 0), hits.get(4, 0)) == (1, 1, 1)


def test_semaphore_only_while_attached(built_o2: tuple[Path, Path], no_leaks: None) -> None:
    prog, lib = built_o2
    site = find(str(lib), "guarded", "lib")[0]
    hits.clear()
    p = bpf.usdt(str(lib), "lib", "guarded")(on_guarded)
    with Target(prog) as target:
        address = semaphore_address(target.pid, str(lib), site.semaphore_offset)
        assert read_u16(target.pid, address) == 0
        assert target.go() == 0
        with p.attach():
            assert read_u16(target.pid, address) == 1
            assert target.go() == 1
        assert read_u16(target.pid, address) == 0
        assert target.go() == 1  # not raised again after detaching
        target.close()
    assert hits[0] == 1


def test_semaphore_for_a_process_started_later(built_o2: tuple[Path, Path]) -> None:
    prog, lib = built_o2
    hits.clear()
    p = bpf.usdt(str(lib), "lib", "guarded")(on_guarded)
    with p.attach():
        with Target(prog) as target:
            assert target.go() == 1
            target.close()
    assert hits[0] == 1


def test_one_process_with_pid(built_o2: tuple[Path, Path]) -> None:
    prog, lib = built_o2
    hits.clear()
    with Target(prog) as mine, Target(prog) as other:
        p = bpf.usdt(str(lib), "lib", "guarded", pid=mine.pid)(on_guarded)
        with p.attach():
            assert mine.go() == 1
            assert other.go() == 0  # its semaphore stays down, and its probe is not ours
        mine.close()
        other.close()
    assert hits[0] == 1


def test_process_semaphore_fallback(built_o2: tuple[Path, Path]) -> None:
    """/proc/PID/mem raising (kernels without ref_ctr_offset), with no probe at all."""
    prog, lib = built_o2
    site = find(str(lib), "guarded", "lib")[0]
    with Target(prog) as target:
        with ProcessSemaphore(target.pid, str(lib), site.semaphore_offset) as sem:
            assert sem.value() == 1
            assert target.go() == 1
        assert target.go() == 1
        target.close()


def test_attach_usdt_raw(built_o2: tuple[Path, Path], no_leaks: None) -> None:
    from tests.link.linkkit import counter

    prog, _ = built_o2
    with Target(prog) as target:
        counting, counts = counter("kprobe", pid=target.pid)
        with counting, attach.usdt(counting, str(prog), "app", "noargs") as link:
            assert "app:noargs" in repr(link)
            target.go()
            target.go()
        assert counts[0] == 2
        with counts:
            pass
        target.close()


def test_errors(built_o2: tuple[Path, Path]) -> None:
    prog = str(built_o2[0])

    def too_far(ctx):
        seen[0] = ctx.arg7

    with pytest.raises(CompileError, match=r"app:global has 1 argument; there is no arg7") as e:
        _ = bpf.usdt(prog, "app", "global")(too_far).compiled
    assert e.value.loc.line > 0 and "ctx.arg7" in e.value.loc.text
    with pytest.raises(CompileError, match="no USDT probe 'app:nosuch'"):
        _ = bpf.usdt(prog, "app", "nosuch")(on_global).compiled
    with pytest.raises(AttachError, match="no USDT probe"):
        attach.usdt(None, prog, "app", "nosuch")


def read_u16(pid: int, address: int) -> int:
    import os

    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        return int.from_bytes(os.pread(fd, 2, address), "little")
    finally:
        os.close(fd)


def on_twice(ctx, v):
    hits[5] += 1
    seen[50] = v


def test_sites_that_differ(built: tuple[Path, Path]) -> None:
    prog = str(built[0])
    with pytest.raises(CompileError, match="read their arguments differently") as e:
        _ = bpf.usdt(prog, "app", "twice")(on_twice).compiled
    assert "site=N" in e.value.hint
    for site, want in ((0, 1), (1, -100000)):
        hits.clear()
        seen.clear()
        p = bpf.usdt(prog, "app", "twice", site=site)(on_twice)
        with Target(built[0]) as target:
            with p.attach():
                target.go()
            target.close()
        assert (hits[5], seen[50]) == (1, want & (2**64 - 1))
