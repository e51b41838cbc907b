"""`pybpf trace` on kernel functions (kprobe, kretprobe, kfunc, kretfunc, wildcards, -l) on a
kernel that has them (Debian 12's 6.1 in the VM), against a known workload and against
bpftrace 0.17 on the same workload. On a kernel without kprobes or fentry/fexit every test is
skipped with pybpf.features' reason (tests/lang checks the errors there).

One pybpf run and one bpftrace run serve all the checks (the VM's CPU is emulated):

    ../shared/vm/run-in-vm --rw "$PWD" -- python3 -m pytest tests/vm/test_trace_vm.py -q
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pybpf import features
from tests.util import requires_root


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for hook in ("kprobe", "kretprobe", "fentry", "fexit"):
        if not features.has(hook):
            return f"{hook}: {features.why_missing(hook)}"
    return None


REASON = _skip_reason()
pytestmark = [requires_root, pytest.mark.skipif(REASON is not None, reason=str(REASON))]

COMM = "pybpfvm"
N_OK, N_BAD, N_READ, READ_SIZE = 7, 3, 5, 100
OPENS = N_OK + N_BAD + 1  # and the one the reads use

WORKLOAD = textwrap.dedent(f"""
    import ctypes, os, sys
    path = sys.argv[1]
    ctypes.CDLL(None).prctl(15, b"{COMM}", 0, 0, 0)  # PR_SET_NAME: comm is {COMM}
    for _ in range({N_OK}):
        os.close(os.open(path, os.O_RDONLY))
    for _ in range({N_BAD}):
        try:
            os.open(path + ".missing", os.O_RDONLY)
        except OSError:
            pass
    fd = os.open(path, os.O_RDONLY)
    for _ in range({N_READ}):
        os.pread(fd, {READ_SIZE}, 0)
    os._exit(0)
""")

F = f'/comm == "{COMM}"/'
# what bpftrace 0.17 and pybpf print the same way
COMMON = f"""
kprobe:do_sys_openat2 {F} {{ @opens[comm] = count(); @p[probe] = count(); }}
kprobe:vfs_rea* {F} {{ @kwild[func] = count(); }}
kretprobe:do_sys_openat2 {F} {{ @r[retval] = count(); }}
kfunc:vfs_read {F} {{ @bytes = hist(args->count); @total = sum(args->count); @reads = count(); }}
kretfunc:do_sys_openat2 {F} {{ @ret[retval < 0] = count(); @fp[probe] = count(); }}
kretfunc:vfs_rea* {F} {{ @fwild[probe] = count(); }}
"""
# where pybpf differs from bpftrace 0.17 on purpose: kretprobe retval typed from BTF (signed:
# bpftrace compares it unsigned, so `retval < 0` never holds), str() of a user address in a
# kprobe/kfunc argument (bpftrace 0.17 reads it as kernel memory: an empty string), func in
# kretprobe (bpftrace 0.17: the caller's symbol) and kfunc (an error there)
PYBPF_ONLY = f"""
kretprobe:do_sys_openat2 {F} {{ @fails[retval < 0] = count(); @rfunc[func] = count(); }}
kprobe:do_sys_openat2 {F} {{ @file[str(arg1)] = count(); @dfd = min(arg0); }}
kfunc:do_sys_openat2 {F} {{ @kfile[str(args->filename)] = count(); @kfunc[func] = count(); }}
kretfunc:do_sys_openat2 {F} {{ @least = min(retval); }}
"""


def _blocks(text: str) -> dict[str, str]:
    """The printed maps: name -> its lines (a hist is several)."""
    out: dict[str, list[str]] = {}
    name = None
    for line in text.splitlines():
        m = re.match(r"@(\w*)", line)
        if m:
            name = m.group(1)
            out.setdefault(name, []).append(line)
        elif name is not None and line.strip():
            out[name].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    d = tmp_path_factory.mktemp("trace_vm")
    script = d / "work.py"
    script.write_text(WORKLOAD)
    target = d / "file"
    target.write_text("hello\n")
    return f"{sys.executable} {script} {target}", target


@pytest.fixture(scope="module")
def pybpf_out(workload: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    """One in-process `pybpf trace -c CMD` run of both programs (-c given without a full
    path: pybpf looks it up on PATH); it must leave no BPF object behind."""
    from pybpf.cli_trace import main
    from tests.conftest import own_objects

    cmd, _ = workload
    out = tmp_path_factory.mktemp("trace_out") / "pybpf.txt"
    before = own_objects()
    rc = main(["-q", "-o", str(out), "-e", COMMON + PYBPF_ONLY, "-c",
               cmd.replace(sys.executable, "python3" if shutil.which("python3") ==
                           sys.executable else sys.executable)])
    assert rc == 0
    import gc

    gc.collect()
    assert own_objects() - before == set()
    return out.read_text()


def test_kprobe_counts_and_comm(pybpf_out: str) -> None:
    maps = _blocks(pybpf_out)
    assert maps["opens"] == f"@opens[{COMM}]: {OPENS}"
    assert maps["p"] == f"@p[kprobe:do_sys_openat2]: {OPENS}"
    assert maps["dfd"] == "@dfd: 4294967196"  # AT_FDCWD (-100) in a raw u64 register, as int
    assert maps["file"].splitlines() == [f"@file[{_target(pybpf_out)}.missing]: {N_BAD}",
                                         f"@file[{_target(pybpf_out)}]: {N_OK + 1}"]


def _target(out: str) -> str:
    m = re.search(r"@file\[([^\]]+?)\.missing\]", out)
    assert m, out
    return m.group(1)


def test_kretprobe_retval_filter(pybpf_out: str) -> None:
    maps = _blocks(pybpf_out)
    assert maps["fails"].splitlines() == [f"@fails[1]: {N_BAD}", f"@fails[0]: {N_OK + 1}"]
    assert f"@r[-2]: {N_BAD}" in maps["r"]  # -ENOENT, signed: do_sys_openat2 returns long
    assert maps["rfunc"] == f"@rfunc[do_sys_openat2]: {OPENS}"


def test_kfunc_typed_args(pybpf_out: str) -> None:
    maps = _blocks(pybpf_out)
    assert maps["reads"] == f"@reads: {N_READ}"
    assert maps["total"] == f"@total: {N_READ * READ_SIZE}"
    assert maps["bytes"].splitlines()[1].startswith("[64, 128)")
    assert f" {N_READ} |" in maps["bytes"]
    assert maps["kfunc"] == f"@kfunc[do_sys_openat2]: {OPENS}"
    assert maps["kfile"].splitlines()[0].endswith(f".missing]: {N_BAD}")


def test_kretfunc_retval(pybpf_out: str) -> None:
    maps = _blocks(pybpf_out)
    assert maps["ret"].splitlines() == [f"@ret[1]: {N_BAD}", f"@ret[0]: {N_OK + 1}"]
    assert maps["least"] == "@least: -2"
    assert maps["fp"] == f"@fp[kretfunc:vmlinux:do_sys_openat2]: {OPENS}"


def test_wildcards_expand_to_each_function(pybpf_out: str) -> None:
    from pybpf.lang import probes

    maps = _blocks(pybpf_out)
    # every vfs_rea* function is traced; the workload only calls vfs_read
    fns = probes.expand("kretfunc:vfs_rea*", probes.Loc("t", 1, 1, ""))
    assert {p.name for p in fns} >= {"vfs_read", "vfs_readv"}
    assert maps["fwild"] == f"@fwild[kretfunc:vmlinux:vfs_read]: {N_READ}"
    kp = {p.name for p in probes.expand("kprobe:vfs_rea*", probes.Loc("t", 1, 1, ""))}
    assert kp >= {"vfs_read", "vfs_readv"}
    assert maps["kwild"] == f"@kwild[vfs_read]: {N_READ}"


@pytest.mark.skipif(shutil.which("bpftrace") is None, reason="no bpftrace to compare with")
def test_same_output_as_bpftrace(pybpf_out: str, workload: tuple[str, Path]) -> None:
    cmd, _ = workload
    res = subprocess.run(["bpftrace", "-e", COMMON, "-c", cmd], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    ours, theirs = _blocks(pybpf_out), _blocks(res.stdout)
    assert set(theirs) <= set(ours), (theirs, ours)
    for name, text in theirs.items():
        # maps print in the same order, with the same key and value layout
        assert sorted(ours[name].splitlines()) == sorted(text.splitlines()) or \
            ours[name] == text, f"@{name}:\n{ours[name]}\n--- bpftrace ---\n{text}"
    assert [n for n in ours if n in theirs] == list(theirs)


@pytest.mark.skipif(shutil.which("bpftrace") is None, reason="no bpftrace to compare with")
@pytest.mark.parametrize("pattern", [pytest.param("kprobe:vfs_*", marks=pytest.mark.vm_full),
                                     "kfunc:tcp_v4_*"])
def test_listing_as_bpftrace(pattern: str) -> None:
    from pybpf.lang.probes import list_probes

    res = subprocess.run(["bpftrace", "-l", pattern], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    ours = list_probes(pattern)
    assert ours, pattern
    theirs = res.stdout.split()
    assert sorted(ours) == sorted(theirs), (sorted(set(ours) - set(theirs)),
                                            sorted(set(theirs) - set(ours)))


def _unprobeable_function() -> str | None:
    """A kernel function that exists but takes no kprobe (on the kprobe blacklist)."""
    for path in ("/sys/kernel/debug/kprobes/blacklist",):
        try:
            with open(path) as f:
                names = [ln.split()[-1] for ln in f if ln.strip()]
        except OSError:
            continue
        with open("/proc/kallsyms") as f:
            text = {ln.split()[2] for ln in f if ln.split()[1] in "tT"}
        for name in names:
            if name in text and re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                return name
    return None


def test_an_attach_point_that_cannot_attach_is_skipped() -> None:
    """As bpftrace: one of a probe's attach points that the kernel refuses is skipped with
    bpftrace's warning, and the others run; alone, it is an error."""
    name = _unprobeable_function()
    if name is None:
        pytest.skip("no kprobe blacklist to take an unprobeable function from")
    prog = f"kprobe:{name}, kprobe:vfs_read {{ @ = count(); }} i:ms:500 {{ exit(); }}"
    res = subprocess.run([sys.executable, "-m", "pybpf.cli", "trace", prog],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    # refused before it is tried (the blacklist is read) or when it is attached
    assert f"kprobe:{name}" in res.stderr and "WARNING" in res.stderr and \
        "skipping" in res.stderr, res.stderr
    assert re.search(r"^@: [1-9]", res.stdout, re.M), res.stdout
    res = subprocess.run([sys.executable, "-m", "pybpf.cli", "trace",
                          f"kprobe:{name} {{ @ = count(); }}"], capture_output=True, text=True,
                         timeout=240)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
