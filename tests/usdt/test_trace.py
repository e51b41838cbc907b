"""`pybpf trace` with usdt probes: the PATH:PROVIDER:NAME and PATH:NAME forms, arg0..argN
of every form, str() of a pointer argument, semaphores, -p PID, -l, the system Python's
gc__start and function__entry, compared with bpftrace where bpftrace reads them right; and
positioned errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.usdt.targets import Target
from tests.util import requires_root

PYTHON = "/usr/bin/python3.11"


def trace(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pybpf.cli_trace", *args], capture_output=True,
                          text=True, timeout=timeout)


def bpftrace(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if shutil.which("bpftrace") is None:
        pytest.skip("needs bpftrace for the comparison")
    return subprocess.run(["bpftrace", *args], capture_output=True, text=True, timeout=timeout)


def rounds(prog: Path, n: int) -> str:
    """-c CMD: the target run for n rounds (bpftrace's -c splits on spaces: no quoting)."""
    return f"{prog} {n}"


def lines(out: str) -> list[str]:
    """The output's lines without blank ones and "Attaching N probes..." (both tools print
    it on stdout)."""
    return [line for line in out.splitlines() if line.strip() and
            not line.startswith("Attaching ")]


@requires_root
def test_arguments_of_every_form(built: tuple[Path, Path]) -> None:
    prog, lib = built
    script = (
        f'usdt:{prog}:app:regs {{ printf("regs %d %d %d %lu %d %s\\n", arg0, arg1, arg2, '
        f'arg3, arg4, str(arg5)); }}\n'
        f'usdt:{prog}:memory {{ printf("memory %ld %d %d\\n", arg0, arg1, arg2); }}\n'
        f'usdt:{prog}:app:consts {{ printf("consts %d %d %ld\\n", arg0, arg1, arg2); }}\n'
        f'usdt:{prog}:app:global {{ printf("global %d\\n", arg0); }}\n'
        f'usdt:{lib}:lib:guarded {{ printf("guarded %d %d\\n", arg0, arg1); }}\n')
    res = trace("-e", script, "-c", rounds(prog, 2))
    assert res.returncode == 0, res.stderr
    want = ["regs -5 65000 -100000 18446744073709551600 -42 hello usdt",
            "memory -123456789012 200 -42", "consts 5 -3 1000000000000", "global -7",
            "guarded 77 -77"]
    assert lines(res.stdout) == want * 2
    assert "Attaching 5 probes" in res.stdout


@requires_root
def test_wildcards_and_maps(built_o2: tuple[Path, Path]) -> None:
    prog, _ = built_o2
    res = trace("-e", f"usdt:{prog}:app:* {{ @[probe] = count(); }}", "-c", rounds(prog, 3))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for name in ("regs", "memory", "consts", "global", "noargs"):
        assert f"@[usdt:{prog}:app:{name}]: 3" in out, out


@requires_root
def test_pid_flag(built_o2: tuple[Path, Path]) -> None:
    prog, lib = built_o2
    with Target(prog) as mine, Target(prog) as other:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pybpf.cli_trace", "-p", str(mine.pid), "-e",
             f'BEGIN {{ printf("ready\\n"); }} usdt:{lib}:lib:guarded '
             f'{{ printf("%d %d\\n", pid, arg0); exit(); }}'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith("Attaching 2 probes")
            assert proc.stdout.readline().strip() == "ready"
            assert other.go() == 0  # not traced: its semaphore stays down
            assert mine.go() == 1
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert lines(out)[0] == f"{mine.pid} 77"
        mine.close()
        other.close()


@requires_root
def test_listing_matches_bpftrace(built_o2: tuple[Path, Path]) -> None:
    prog, lib = built_o2
    for path in (str(prog), str(lib)) + ((PYTHON,) if os.path.exists(PYTHON) else ()):
        res = trace("-l", f"usdt:{path}:*")
        assert res.returncode == 0, res.stderr
        ref = bpftrace("-l", f"usdt:{path}:*")
        assert lines(res.stdout) == lines(ref.stdout), path
    res = trace("-l", f"usdt:{prog}:app:co*")
    assert lines(res.stdout) == [f"usdt:{prog}:app:consts"]


@requires_root
def test_python_gc_start(tmp_path: Path) -> None:
    if not os.path.exists(PYTHON):
        pytest.skip(f"needs {PYTHON}")
    # generation 1 only: the interpreter collects generation 2 itself as it shuts down
    script_py = tmp_path / "gc3.py"  # bpftrace's -c splits on spaces: no quoting
    script_py.write_text("import gc\ngc.disable()\nfor _ in range(3):\n    gc.collect(1)\n")
    cmd = f"{PYTHON} {script_py}"
    script = ("usdt:/usr/bin/python3.11:python:gc__start /pid == cpid && arg0 == 1/ "
              "{ @gen[arg0] = count(); }")
    res = trace("-e", script, "-c", cmd)
    assert res.returncode == 0, res.stderr
    assert lines(res.stdout) == ["@gen[1]: 3"], res.stdout
    ref = bpftrace("-e", script, "-c", cmd)
    assert ref.returncode == 0, ref.stderr
    assert sorted(lines(res.stdout)) == sorted(lines(ref.stdout))


@requires_root
def test_python_function_entry(tmp_path: Path) -> None:
    """function__entry fires in 3.11 only while a profile function is set."""
    if not os.path.exists(PYTHON):
        pytest.skip(f"needs {PYTHON}")
    script_py = tmp_path / "calls.py"
    script_py.write_text("import sys\ndef hello_usdt(): pass\nhello_usdt()\n"
                         "sys.setprofile(lambda *a: None)\nhello_usdt()\nhello_usdt()\n")
    cmd = f"{PYTHON} {script_py}"
    script = ('usdt:/usr/bin/python3.11:python:function__entry /pid == cpid && '
              'str(arg1) == "hello_usdt"/ { printf("%s %s %d\\n", str(arg0), str(arg1), arg2); }')
    res = trace("-e", script, "-c", cmd)
    assert res.returncode == 0, res.stderr
    got = [line.rsplit(" ", 2) for line in lines(res.stdout)]
    assert [(f, n) for _, f, n in got] == [("hello_usdt", "2")] * 2, res.stdout
    assert all(str(script_py).startswith(file) and len(file) >= 20 for file, _, _ in got)
    ref = bpftrace("-e", script, "-c", cmd)
    assert lines(ref.stdout) == lines(res.stdout)


@requires_root
@pytest.mark.parametrize("probe, body, words, col", [
    ("usdt:{prog}:app:nosuch", "{ }", "no USDT probe 'app:nosuch'", 1),
    ("usdt:{prog}:app:global", '{ printf("%d", arg3); }', "has 1 argument; there is no arg3",
     40),
    ("usdt:/nonexistent/bin:x:y", "{ }", "cannot find binary", 1),
    ("usdt:{prog}", "{ }", "usdt probes are written", 1),
])
def test_errors(built_o2: tuple[Path, Path], probe: str, body: str, words: str,
                col: int) -> None:
    prog = str(built_o2[0])
    text = f"{probe.format(prog=prog)} {body}"
    res = trace("-e", text)
    assert res.returncode == 1, res.stdout
    assert "Traceback" not in res.stderr
    first = res.stderr.splitlines()[0]
    assert words in first, res.stderr
    col = col if col == 1 else text.index("arg3") + 1
    assert first.startswith(f"stdin:1:{col}: error: "), res.stderr


@requires_root
def test_one_probe_two_sites(built: tuple[Path, Path]) -> None:
    """app:twice is one probe at two sites with different argument specs: a probe each."""
    prog, _ = built
    script = f"usdt:{prog}:app:twice {{ @[arg0] = count(); }}"
    res = trace("-e", script, "-c", rounds(prog, 2))
    assert res.returncode == 0, res.stderr
    assert "Attaching 2 probes" in res.stdout
    assert sorted(lines(res.stdout)) == ["@[-100000]: 2", "@[1]: 2"]
    if "-O2" in str(prog):  # bpftrace 0.17 misreads some memory operands of -O0 code
        ref = bpftrace("-e", script, "-c", rounds(prog, 2))
        assert sorted(lines(ref.stdout)) == sorted(lines(res.stdout))
