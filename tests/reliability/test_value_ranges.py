"""Values are checked against the C type they end up in, never truncated: map sizes (u32),
the tools' numeric options (pid_t, uid_t, CPUs, signals, ports, errnos, u32/u64 constants the
programs compile in), `pybpf run --set NAME=VALUE` against the variable's BTF type, and
`pybpf trace -p` of a process that does not exist.

Before: `maps.Hash(max_entries=2**32 + 16)` made a map of 16 entries, `opensnoop -p
PID+2**32` traced PID, `-u 4294967296` traced uid 0, `--set cfg.target_pid=4294967297`
filtered on pid 1, and `trace -p 999999` exited 0."""

from __future__ import annotations

import argparse
import os
import pwd
import subprocess
import sys

import pytest

from pybpf import maps
from pybpf.btf import BTF, BTFBuilder
from pybpf.cli import build_parser
from pybpf.elf import values
from tests.reliability.common import ROOT, child_env, no_traceback

# -- map sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {"max_entries": 2**32 + 16}, {"max_entries": -1}, {"max_entries": 0},
    {"max_entries": 2**64}, {"key": 2**32 + 4}, {"value": 2**32 + 8},
], ids=["entries-2**32+16", "entries--1", "entries-0", "entries-2**64", "key-2**32+4",
        "value-2**32+8"])
def test_map_sizes_out_of_u32_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=r"out of range .* u32"):
        maps.Hash(**kwargs).close()


def test_ring_buffer_larger_than_u32_is_refused() -> None:
    with pytest.raises(ValueError, match="max_entries 8589934592 is out of range"):
        maps.RingBuf(2**33).close()  # a power of two and page multiple: only u32 refuses it


def test_map_size_that_is_no_int_is_refused() -> None:
    with pytest.raises(TypeError, match="max_entries must be an int"):
        maps.Hash(max_entries=10.5).close()


# -- the tools' options ---------------------------------------------------------------------

NCPUS = len(os.sched_getaffinity(0))
with open("/sys/devices/system/cpu/possible") as _f:
    POSSIBLE_CPUS = int(_f.read().strip().split(",")[-1].split("-")[-1]) + 1

PIDS = ["0", "-1", "2147483648", str(2**32 + os.getpid())]
USERS = ["-1", "4294967295", "4294967296", "no_such_user_of_pybpf"]
# (the option's dest, the commands that have it or None for all): values it must refuse
BAD: list[tuple[str, tuple[str, ...] | None, list[str]]] = [
    ("pid", None, PIDS), ("tid", None, PIDS), ("ppid", None, PIDS), ("tgids", None, PIDS),
    ("pids", ("offcputime",), PIDS + ["1,2147483648"]), ("uid", None, USERS),
    ("tpid", None, ["0", "2147483648", str(-2**31 - 1)]),
    ("cpu", None, ["-1", str(POSSIBLE_CPUS), str(2**32)]),
    ("signal", None, ["0", "65", "-9", "SIGNOSUCH"]),
    ("errno", None, ["0", "4096", "-2", "ENOSUCHERRNO"]),
    ("port", None, ["-1", "65536", "80,70000"]), ("localport", None, ["-1", "65536"]),
    ("remoteport", None, ["65536"]),
    ("min_block_time", None, ["-1", str(2**64)]), ("max_block_time", None, ["-1", str(2**64)]),
    ("state", None, ["-1", str(2**32)]),
    ("frequency", None, ["0", str(2**64)]), ("count", ("profile",), ["0", str(2**64)]),
    ("stack_storage_size", None, ["0", str(2**32)]),
    ("max_args", None, ["0", "100000"]),
]


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _cases() -> list[tuple[str, str, str]]:
    out = []
    for command, sub in _subparsers().items():
        for action in sub._actions:
            if not action.option_strings or action.nargs == 0:  # flags take no value
                continue
            for dest, commands, bad in BAD:
                if action.dest == dest and (commands is None or command in commands):
                    out += [(command, action.option_strings[0], v) for v in bad]
    return out


CASES = _cases()


def test_every_filter_option_is_covered() -> None:
    """The table reaches the options that matter (so a renamed dest does not go untested)."""
    covered = {(c, o) for c, o, _ in CASES}
    for must in [("opensnoop", "-p"), ("opensnoop", "-t"), ("opensnoop", "-u"),
                 ("execsnoop", "-u"), ("execsnoop", "-P"), ("execsnoop", "--max-args"),
                 ("killsnoop", "-T"), ("killsnoop", "-s"), ("sigsnoop", "-s"),
                 ("syscount", "-e"), ("hardirqs", "-c"), ("softirqs", "-c"),
                 ("profile", "-C"), ("profile", "-p"), ("profile", "-F"), ("profile", "-c"),
                 ("offcputime", "-p"), ("offcputime", "-t"), ("offcputime", "--state"),
                 ("offcputime", "-m"), ("tcplife", "-L"), ("tcpconnect", "-P"),
                 ("tcpconnect", "-u"), ("drsnoop", "-u"), ("trace", "-p")]:
        assert must in covered, must


@pytest.mark.parametrize(("command", "option", "value"), CASES,
                         ids=[f"{c} {o} {v}" for c, o, v in CASES])
def test_out_of_range_option_is_a_usage_error(command: str, option: str, value: str,
                                              capsys) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, f"{option}={value}"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert no_traceback(err), err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"pybpf {command}: error: argument {option}"), err


@pytest.mark.parametrize(("command", "argv", "dest", "expected"), [
    ("opensnoop", ["-p", "2147483647"], "pid", 2147483647),
    ("opensnoop", ["-u", "4294967294"], "uid", 4294967294),
    ("opensnoop", ["-u", "0"], "uid", 0),
    ("killsnoop", ["-T", "-1"], "tpid", -1),
    ("killsnoop", ["-s", "SIGKILL"], "signal", 9),
    ("killsnoop", ["-s", "64"], "signal", 64),
    ("syscount", ["-e", "ENOENT"], "errno", 2),
    ("hardirqs", ["-c", str(POSSIBLE_CPUS - 1)], "cpu", POSSIBLE_CPUS - 1),
    ("tcplife", ["-L", "0,65535"], "localport", {0, 65535}),
    ("offcputime", ["-M", str(2**64 - 1)], "max_block_time", 2**64 - 1),
    ("execsnoop", ["--max-args", "64"], "max_args", 64),
])
def test_values_in_range_are_taken(command: str, argv: list[str], dest: str,
                                   expected: object) -> None:
    assert getattr(build_parser().parse_args([command, *argv]), dest) == expected


@pytest.mark.parametrize("command", ["opensnoop", "execsnoop", "drsnoop", "tcpconnect"])
def test_user_option_takes_a_name(command: str) -> None:
    """bcc's -u takes a user name too, resolved through the password database."""
    me = pwd.getpwuid(os.getuid())
    assert build_parser().parse_args([command, "-u", me.pw_name]).uid == me.pw_uid


# -- pybpf run --set ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def objects() -> dict[str, str]:
    """The ELF test objects (tests/elf/progs, built with clang; skipped without it)."""
    from tests.elf.build import build

    return {name: build(name) for name in ("globals", "ringbuf")}


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf.cli", "run", *argv], capture_output=True,
                          text=True, env=child_env(), cwd=ROOT, timeout=120)


@pytest.mark.parametrize(("obj", "assignment", "words"), [
    ("globals", "cfg.target_pid=4294967297", ["cfg.target_pid", "__u32", "0 to 4294967295"]),
    ("globals", "cfg.target_pid=-1", ["cfg.target_pid", "__u32", "0 to 4294967295"]),
    ("globals", "cfg.scale=2147483648", ["cfg.scale", "__s32", "-2147483648 to 2147483647"]),
    ("globals", "cfg.scale=-2147483649", ["cfg.scale", "__s32", "-2147483648 to 2147483647"]),
    ("ringbuf", "target_pid=0x100000001", ["target_pid", "__u32", "0 to 4294967295"]),
    ("globals", "multiplier=18446744073709551616", ["multiplier", "__u64"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_set_refuses_what_does_not_fit(objects, obj: str, assignment: str,
                                       words: list[str]) -> None:
    res = _run([objects[obj], "--set", assignment, "-d", "0.1"])
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert no_traceback(res.stderr), res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"pybpf: --set {assignment}: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])


def _value_btf() -> tuple[BTF, int]:
    b = BTFBuilder()
    u32 = b.add_int("unsigned int", 4)
    u8 = b.add_int("unsigned char", 1)
    s16 = b.add_int("short", 2, signed=True)
    boolean = b.add_int("_Bool", 1, bool_=True)
    pair = b.add_array(s16, u32, 2)
    s = b.add_struct("rec", 12, [("pid", u32, 0), ("pair", pair, 32), ("lo", u32, 64, 3),
                                 ("neg", s16, 72, 4), ("ok", boolean, 80), ("b", u8, 88)])
    return BTF.from_bytes(b.encode()), s


@pytest.mark.parametrize(("value", "where"), [
    ({"pid": 2**32}, "pid is unsigned int"), ({"pid": -1}, "pid is unsigned int"),
    ({"pair": [1, 40000]}, "pair[1] is short (-32768 to 32767)"),
    ({"lo": 8}, "lo is unsigned int:3 (0 to 7)"), ({"neg": 8}, "neg is short:4 (-8 to 7)"),
    ({"ok": 2}, "ok is _Bool (0 to 1)"), ({"b": 256}, "b is unsigned char (0 to 255)"),
], ids=["u32-over", "u32-negative", "array-element", "bitfield", "signed-bitfield", "bool",
        "u8"])
def test_encode_refuses_integers_that_do_not_fit(value: dict, where: str) -> None:
    btf, rec = _value_btf()
    with pytest.raises(values.ValueRangeError) as e:
        values.encode(btf, rec, value)
    assert where in str(e.value), str(e.value)


def test_encode_keeps_what_fits() -> None:
    btf, rec = _value_btf()
    v = {"pid": 2**32 - 1, "pair": [-32768, 32767], "lo": 7, "neg": -8, "ok": True, "b": 255}
    assert values.decode(btf, rec, values.encode(btf, rec, v)) == v


# -- pybpf trace -p -------------------------------------------------------------------------


def _absent_pid() -> int:
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def test_trace_of_a_process_that_does_not_exist_fails() -> None:
    pid = _absent_pid()
    res = subprocess.run([sys.executable, "-m", "pybpf.cli", "trace", "-p", str(pid),
                          "tracepoint:syscalls:sys_enter_openat { @ = count(); }"],
                         capture_output=True, text=True, env=child_env(), cwd=ROOT,
                         timeout=120)
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.strip().splitlines() == [f"pybpf trace: -p {pid}: no such process"]
