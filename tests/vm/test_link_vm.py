"""kprobes, kretprobes, kprobe_multi, fentry/fexit/fmod_ret and tp_btf on a kernel that has
them (Debian 12's 6.1 in the VM); each test causes a known number of events in this process
and checks the count. On a kernel without a hook the test is skipped with the reason
pybpf.features gives (and tests/link checks those errors on the host).

    ../shared/vm/run-in-vm --rw "$PWD" -- python3 -m pytest tests/vm/test_link_vm.py -q
"""

from __future__ import annotations

import errno
import importlib
import os
import platform
import shutil
import subprocess
import sys
import uuid

import pytest

from pybpf import Program, attach, features
from pybpf.link import AttachError, UnknownTargetError
from pybpf.link.kprobe_multi import multi_attach_type
from pybpf.link.probe import HOOKS
from pybpf.sys import LinkType, NotSupportedError
from tests.util import requires_root
from tests.vm.linkvm import SET, code, kprobe_counter, new_counts, tracing_counter

pytestmark = requires_root

ON_61 = platform.release().startswith("6.1.")
N = 25
GETPGID_NR = 121  # x86-64
SYSCALL = "__x64_sys_getpgid"


def needs(hook: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not features.has(hook), reason=str(features.why_missing(hook)))


def getpgid(n: int = N) -> None:
    for _ in range(n):
        os.getpgid(0)


def test_feature_report_on_this_kernel():
    report = features.collect()
    print({h: report.hooks[h] for h in HOOKS})
    for hook in HOOKS:
        assert (hook in report.missing) == (report.hooks[hook] is False)
    if ON_61:
        # Debian 12's kernel has every function hook but kprobe_multi (no CONFIG_FPROBE)
        assert all(report.hooks[h] for h in HOOKS if h != "kprobe_multi"), report.missing
        assert "CONFIG_FPROBE" in report.missing["kprobe_multi"]
        assert features.best_function_hook() == "fentry"
        assert features.best_function_hook(on_return=True) == "fexit"
        assert features.best_tracepoint_hook() == "tp_btf"


# --- kprobes ---------------------------------------------------------------------------
@needs("kprobe")
def test_kprobe_counts_calls(no_leaks):
    prog, counts = kprobe_counter()
    with prog, attach.kprobe(prog, SYSCALL) as link:
        assert link.kind == "kprobe" and link.link_type == LinkType.PERF_EVENT
        getpgid()
    assert counts[0] == N


@needs("kretprobe")
def test_kretprobe_sees_return_value(no_leaks):
    # pt_regs->ax (offset 80 on x86-64) holds the return value at a kretprobe
    counts = new_counts()
    prog = Program.load("kprobe", code(counts, value="r7 = *(u64 *)(r6 +80)", store=SET))
    with prog, attach.kretprobe(prog, SYSCALL):
        os.getpgid(0)
    assert counts[0] == os.getpgid(0)


@needs("kprobe")
def test_kprobe_offset_on_an_instruction_boundary(no_leaks):
    # a function starts with endbr64 (4 bytes, IBT kernels) or the 5-byte ftrace nop: +1 is
    # inside an instruction everywhere, and exactly one of +4 / +5 starts the next one
    prog, counts = kprobe_counter()
    with prog:
        with pytest.raises(UnknownTargetError, match="instruction boundary"):
            attach.kprobe(prog, f"{SYSCALL}+0x1")
        placed = []
        for off in (4, 5):
            try:
                link = attach.kprobe(prog, f"{SYSCALL}+{off:#x}")
            except UnknownTargetError:
                continue
            with link:
                assert link.target == f"{SYSCALL}+{off:#x}"
                getpgid()
            placed.append(off)
        with pytest.raises(ValueError, match="no offset"):
            attach.kretprobe(prog, f"{SYSCALL}+0x4")
    assert len(placed) == 1, placed
    assert counts[0] == N


@needs("kprobe")
def test_kprobe_through_tracefs_kprobe_events(no_leaks, monkeypatch):
    # the legacy path, for kernels without the perf kprobe PMU
    kprobe_module = importlib.import_module("pybpf.link.kprobe")  # (the name is the function)
    monkeypatch.setattr(kprobe_module, "pmu_type", lambda name: None)
    from pybpf.link._probe_events import events_file

    prog, counts = kprobe_counter()
    with prog:
        with attach.kprobe(prog, SYSCALL):
            with open(events_file("kprobe")) as f:
                assert "pybpf/" in f.read()
            getpgid()
        with attach.kretprobe(prog, SYSCALL):
            getpgid()
    with open(events_file("kprobe")) as f:
        assert "pybpf/" not in f.read()  # removed again
    assert counts[0] == 2 * N


def _nine_p_lookups(n: int = 20) -> None:
    """Path look-ups that miss every cache and go to the host over 9p."""
    for _ in range(n):
        os.path.exists(f"/usr/share/pybpf-{uuid.uuid4().hex}")


@needs("kprobe")
@pytest.mark.skipif(not os.path.exists("/sys/module/9pnet"), reason="no 9pnet module")
def test_kprobe_on_a_module_symbol(no_leaks):
    prog, counts = kprobe_counter()
    with prog, attach.kprobe(prog, "9pnet:p9_client_rpc") as link:
        assert link.target == "9pnet:p9_client_rpc"
        _nine_p_lookups()
    assert counts[0] > 0


@needs("kprobe")
def test_unknown_kprobe_function_names_nearest(no_leaks):
    prog, _ = kprobe_counter()
    with prog, pytest.raises(UnknownTargetError, match="__x64_sys_getpgid"):
        attach.kprobe(prog, "__x64_sys_getpgidd")


@pytest.mark.vm_full
@needs("kprobe")
@pytest.mark.skipif(shutil.which("bpftrace") is None, reason="no bpftrace")
def test_kprobe_count_matches_bpftrace(no_leaks, tmp_path):
    # the same child (it waits for end of input, then calls getpgid N times) under
    # bpftrace's kprobe and under ours, each counting only that child
    script = tmp_path / "calls.py"
    script.write_text(f"import os, sys\nsys.stdin.read()\nfor _ in range({N}):\n"
                      "    os.getpgid(0)\n")
    child = [sys.executable, str(script)]
    out = subprocess.run(
        ["bpftrace", "-e", f"kprobe:{SYSCALL} /pid == cpid/ {{ @ = count(); }}",
         "-c", " ".join(child)], input="", capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    theirs = int(out.stdout.rsplit("@:", 1)[1].split()[0])
    proc = subprocess.Popen(child, stdin=subprocess.PIPE)
    try:
        prog, counts = kprobe_counter(pid=proc.pid)
        with prog, attach.kprobe(prog, SYSCALL):
            proc.stdin.close()  # go
            proc.wait(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    print(f"bpftrace {theirs}, pybpf {counts[0]}")
    assert theirs == N
    assert counts[0] == theirs


# --- kprobe_multi ----------------------------------------------------------------------
# Debian's 6.1 (like the host) is built without CONFIG_FPROBE: no kprobe_multi links. There
# a program loaded as plain 'kprobe' gets one perf kprobe per function.
def multi_counter(**kw: object) -> tuple[Program, object]:
    return kprobe_counter(attach=multi_attach_type(), **kw)


def expected_multi_link() -> LinkType:
    return LinkType.KPROBE_MULTI if features.has("kprobe_multi") else LinkType.PERF_EVENT


@needs("kprobe")
def test_kprobe_multi_two_functions_with_cookies(no_leaks):
    counts = new_counts()
    insns = code(counts, value="r1 = r6\n    call bpf_get_attach_cookie\n    r7 = r0")
    with Program.load("kprobe", insns, attach=multi_attach_type()) as prog:
        with attach.kprobe_multi(prog, [SYSCALL, "__x64_sys_getsid"], cookies=[1, 100]) as link:
            assert link.link_type == expected_multi_link()
            getpgid(5)
            for _ in range(7):
                os.getsid(0)
    assert counts[0] == 5 + 700


@needs("kprobe")
def test_kretprobe_multi_by_pattern(no_leaks):
    prog, counts = multi_counter()
    with prog, attach.kretprobe_multi(prog, "__x64_sys_getpgi*") as link:
        assert link.kind == "kretprobe_multi"
        getpgid()
    assert counts[0] == N


@pytest.mark.vm_full
@needs("kprobe")
def test_kprobe_multi_unknown_function(no_leaks):
    prog, _ = multi_counter()
    with prog, pytest.raises(UnknownTargetError, match="no_such_function_x"):
        attach.kprobe_multi(prog, [SYSCALL, "no_such_function_x"])


@needs("kprobe")
@pytest.mark.skipif(features.has("kprobe_multi") is not False, reason="has kprobe_multi")
def test_kprobe_multi_program_where_links_are_missing(no_leaks):
    prog, _ = kprobe_counter(attach="trace_kprobe_multi")
    with prog, pytest.raises(NotSupportedError, match="kprobe_multi links are not available"):
        attach.kprobe_multi(prog, [SYSCALL])


# --- fentry / fexit / fmod_ret / tp_btf ------------------------------------------------
@needs("fentry")
def test_fentry_counts_calls(no_leaks):
    prog, counts = tracing_counter("fentry", SYSCALL)
    with prog, attach.fentry(prog) as link:
        assert link.kind == "fentry" and link.target == SYSCALL
        assert link.link_type == LinkType.TRACING
        getpgid()
    assert counts[0] == N


@needs("fentry")
def test_fentry_reads_arguments(no_leaks, tmp_path):
    # vfs_read(file, buf, count, pos): count is ctx[2]
    path = tmp_path / "data"
    path.write_bytes(b"x" * 20000)
    cond = "    r1 = *(u64 *)(r6 +16)\n    if r1 != 12345 goto out"
    prog, counts = tracing_counter("fentry", "vfs_read", cond=cond)
    with prog, attach.fentry(prog), open(path, "rb", buffering=0) as f:
        for _ in range(3):
            f.seek(0)
            assert len(f.read(12345)) == 12345
        f.read(100)
    assert counts[0] == 3


@needs("fexit")
def test_fexit_reads_return_value(no_leaks):
    # __x64_sys_getpgid(const struct pt_regs *regs): one argument, the return value at ctx[1]
    prog, counts = tracing_counter("fexit", SYSCALL, value="r7 = *(u64 *)(r6 +8)", store=SET)
    with prog, attach.fexit(prog):
        os.getpgid(0)
    assert counts[0] == os.getpgid(0)


@needs("fentry")
@pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/9pnet"), reason="no 9pnet BTF")
def test_fentry_on_a_module_function(no_leaks):
    prog, counts = tracing_counter("fentry", "p9_client_walk")  # found in 9pnet's BTF
    with prog, attach.fentry(prog) as link:
        assert link.target == "9pnet:p9_client_walk"
        _nine_p_lookups()
    assert counts[0] > 0
    with pytest.raises(AttachError, match="variable arguments.*kprobe"):
        tracing_counter("fentry", "9pnet:p9_client_rpc")


@needs("fmod_ret")
def test_fmod_ret_makes_a_security_hook_fail(no_leaks):
    # returning -EPERM from security_task_getsid skips it: getsid fails, in this process only
    me = os.getpid()  # (getsid(0) does not ask the security hook)
    sid = os.getsid(me)
    prog, counts = tracing_counter("fmod_ret", "security_task_getsid", ret=-errno.EPERM)
    with prog:
        with attach.fmod_ret(prog):
            with pytest.raises(PermissionError):
                os.getsid(me)
            subprocess.run(["true"], check=True)  # (other processes are not affected)
        assert os.getsid(me) == sid  # detached
    assert counts[0] == 1


@needs("fmod_ret")
def test_fmod_ret_needs_an_error_injection_function(no_leaks):
    with pytest.raises(AttachError, match="error-injection"):
        tracing_counter("fmod_ret", "vfs_read")


@needs("tp_btf")
def test_tp_btf_sys_enter(no_leaks):
    # btf_trace_sys_enter(void *, struct pt_regs *regs, long id): id is ctx[1]
    cond = f"    r1 = *(u64 *)(r6 +8)\n    if r1 != {GETPGID_NR} goto out"
    prog, counts = tracing_counter("tp_btf", "sys_enter", cond=cond)
    with prog, attach.tp_btf(prog) as link:
        assert link.kind == "tp_btf" and link.target == "sys_enter"
        getpgid()
    assert counts[0] == N


@needs("tp_btf")
def test_tp_btf_sched_switch(no_leaks):
    prog, counts = tracing_counter("tp_btf", "sched:sched_switch", pid=-1)
    with prog, attach.tp_btf(prog):
        subprocess.run(["sleep", "0.05"], check=True)
    assert counts[0] > 0
