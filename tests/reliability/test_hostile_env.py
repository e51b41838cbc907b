"""PYBPF_* variables with hostile values (issue 26 item 3): a missing, wrong-kind, device,
binary, relative or overlong path ends a command with one line that names the variable and
says what is wrong, never a traceback and never a tool that prints its header and traces
nothing; PYBPF_CACHE_DIR that cannot hold a cache turns caching off without creating
anything in the current folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.common import child_env, no_traceback
from tests.util import requires_root

pytestmark = requires_root

HOSTILE = ["/nonexistent-pybpf/x", "/dev/zero", "/etc/passwd", "/etc", "rel\x01ative",
           "/proc/self/mem", "/" + "x" * 5000]
COMMANDS = [["execsnoop", "--duration", "1"], ["opensnoop", "--duration", "1"],
            ["statsnoop", "--duration", "1"],
            ["trace", "tracepoint:syscalls:sys_enter_openat { @ = count(); exit(); }"]]


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf.cli", *argv], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60)


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:24]))
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_hostile_tracefs_variable_is_one_line(argv: list[str], value: str,
                                              tmp_path: Path) -> None:
    res = _run(argv, dict(child_env(), PYBPF_TRACEFS=value), tmp_path)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert no_traceback(res.stderr), res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    if argv[0] == "trace":  # a positioned error: message, source line, caret
        assert lines[0].startswith("stdin:1:1: error: cannot look up tracepoint "), lines
        assert len(lines) == 3, lines
    else:
        assert len(lines) == 1, lines
        assert "cannot look up tracepoint" in lines[0], lines
    assert "PYBPF_TRACEFS=" in lines[0] and "not a tracefs" in lines[0], lines
    assert "this kernel has no" not in res.stderr
    assert not res.stdout.strip(), res.stdout  # no header of a tool that traces nothing


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:24]))
def test_hostile_btf_variable_is_one_line(value: str, tmp_path: Path) -> None:
    res = _run(["execsnoop", "--duration", "1"], dict(child_env(), PYBPF_BTF=value), tmp_path)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert no_traceback(res.stderr), res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "(PYBPF_BTF)" in lines[0], lines
    assert "cannot use the kernel's BTF" in lines[0], lines


@pytest.mark.parametrize("value", ["rel\x01ative", "relative/cache", "/dev/zero",
                                   "/etc/passwd", "/proc/self/mem", "/" + "x" * 5000])
def test_hostile_cache_variable_turns_caching_off(value: str, tmp_path: Path) -> None:
    res = _run(["execsnoop", "--duration", "1"], dict(child_env(), PYBPF_CACHE_DIR=value),
               tmp_path)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert no_traceback(res.stderr), res.stderr
    assert res.stdout.startswith("PCOMM") or res.stdout.startswith("COMM"), res.stdout
    assert os.listdir(tmp_path) == []  # nothing made where the command ran
    assert os.path.isfile("/etc/passwd") and os.path.getsize("/etc/passwd") > 0
