"""Bad files give clear errors end to end: damaged .bpf.o objects through `pybpf run`, damaged
BTF through the BTF reader, and damaged tracefs format files (PYBPF_TRACEFS pointing at a copy)
under `pybpf trace`, a tool and the Python compiler: exit status 1 with a short message, never
a Python traceback."""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.common import ROOT, child_env, default_sigint, no_traceback
from tests.util import requires_root

pytestmark = requires_root

SETTINGS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def bpf_object() -> bytes:
    from tests.elf.build import build

    try:
        path = build("ringbuf")
    except Exception as e:  # noqa: BLE001 - clang missing: the CI installs it
        pytest.skip(f"cannot build the test object: {e}")
    with open(path, "rb") as f:
        return f.read()


@st.composite
def damaged(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "flip", "zero"]))
    buf = bytearray(data)
    if kind == "truncate":
        return bytes(buf[:draw(st.integers(0, len(buf) - 1))])
    for _ in range(draw(st.integers(1, 8))):
        # mostly the ELF header and section headers (the start and the end of the file)
        i = draw(st.one_of(st.integers(0, 63), st.integers(max(len(buf) - 2048, 0),
                                                            len(buf) - 1),
                           st.integers(0, len(buf) - 1)))
        buf[i] = 0 if kind == "zero" else draw(st.integers(0, 255))
    return bytes(buf)


def test_damaged_bpf_objects_through_pybpf_run(bpf_object, tmp_path) -> None:
    from pybpf.cli import main

    path = tmp_path / "damaged.bpf.o"
    outcomes: dict[str, int] = {}

    @settings(max_examples=150, **SETTINGS)
    @given(damaged(bpf_object))
    def check(data: bytes) -> None:
        path.write_bytes(data)
        err, out = io.StringIO(), io.StringIO()
        with redirect_stderr(err), redirect_stdout(out):
            try:
                rc = main(["run", str(path), "-d", "0.05", "--no-maps"])
            except SystemExit as e:
                rc = e.code
            except Exception as e:
                raise AssertionError(f"traceback: {type(e).__name__}: {e}") from e
        text = err.getvalue()
        assert rc in (0, 1), (rc, text)
        if rc == 1:
            assert text.strip() and no_traceback(text), text
            assert len(text.strip().splitlines()) <= 4, text
        outcomes[str(rc)] = outcomes.get(str(rc), 0) + 1

    check()
    assert outcomes.get("1", 0) > 50, outcomes


def test_damaged_btf_gives_btf_errors() -> None:
    from pybpf.btf import BTF, BTFError

    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        data = f.read(1 << 20)  # a prefix: the header's lengths then point past the end
    real = data[:24] + data[24:]

    @settings(max_examples=200, **SETTINGS)
    @given(damaged(real))
    def check(blob: bytes) -> None:
        try:
            btf = BTF.from_bytes(blob)
            btf.struct("task_struct")
        except (BTFError, KeyError, LookupError):
            pass
        except Exception as e:
            raise AssertionError(f"{type(e).__name__}: {e}") from e

    check()


# -- tracefs formats -----------------------------------------------------------------------------

def _format_variants(good: str) -> dict[str, str]:
    lines = good.splitlines()
    fields = [i for i, ln in enumerate(lines) if "field:" in ln]
    bad_offset = list(lines)
    bad_offset[fields[-1]] = bad_offset[fields[-1]].replace("offset:", "offset:zz")
    huge = list(lines)
    huge[fields[-1]] = huge[fields[-1]].replace("size:", "size:99999999")
    return {"empty": "", "truncated": good[:len(good) // 2], "garbage": "\x00\xff junk {{{\n",
            "bad-offset": "\n".join(bad_offset), "huge-size": "\n".join(huge),
            "no-fields": "\n".join(lines[:3]) + "\n"}


def _fake_tracefs(tmp_path, tracepoints: list[str], variant: str) -> str:
    root = tmp_path / f"tracefs-{variant}"
    for tp in tracepoints:
        group, name = tp.split(":")
        src = f"/sys/kernel/tracing/events/{group}/{name}"
        dst = root / "events" / group / name
        dst.mkdir(parents=True)
        shutil.copy(f"{src}/id", dst / "id")
        with open(f"{src}/format") as f:
            good = f.read()
        (dst / "format").write_text(_format_variants(good)[variant])
    return str(root)


VARIANTS = ["empty", "truncated", "garbage", "bad-offset", "huge-size", "no-fields"]
COMMANDS = [
    ("trace", ["trace", "tracepoint:sched:sched_switch { @[args.prev_pid] = count(); } "
                        "interval:ms:300 { exit(); }"], ["sched:sched_switch"]),
    ("execsnoop", ["execsnoop"], ["syscalls:sys_enter_execve", "syscalls:sys_exit_execve"]),
]


def _variant_params():
    for name, argv, tps in COMMANDS:
        for v in VARIANTS:
            yield pytest.param(name, argv, tps, v, id=f"{name}-{v}")


@pytest.mark.parametrize(("name", "argv", "tracepoints", "variant"), list(_variant_params()))
def test_bad_tracefs_format(tmp_path, name: str, argv: list[str], tracepoints: list[str],
                            variant: str) -> None:
    """Either the damaged format still holds what the command needs (it runs: ended here
    after 3 s) or the command ends with status 1 and a short message naming the
    tracepoint; never a traceback or an internal error."""
    env = dict(child_env(), PYBPF_TRACEFS=_fake_tracefs(tmp_path, tracepoints, variant))
    proc = subprocess.Popen([sys.executable, "-m", "pybpf.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            preexec_fn=default_sigint)
    try:
        out, err = proc.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert no_traceback(err), err
    assert proc.returncode in (0, 1), (proc.returncode, err[-2000:])
    if proc.returncode == 1:
        assert len(err.strip().splitlines()) <= 4, err
        assert "internal" not in err, err
        assert any(tp in err for tp in tracepoints), err


@pytest.mark.parametrize("variant", VARIANTS)
def test_bad_tracefs_format_python_compiler(tmp_path, variant: str) -> None:
    """The compiler's tracepoint context from a damaged format: compiled (the fields it needs
    are intact) or a CompileError, not another exception."""
    env = dict(child_env(), PYBPF_TRACEFS=_fake_tracefs(tmp_path, ["sched:sched_switch"],
                                                         variant))
    mod = tmp_path / "prog.py"
    mod.write_text("from pybpf import bpf, maps, u32, u64\n"
                   "counts = maps.Hash(key=u32, value=u64, max_entries=8)\n\n"
                   "@bpf.tracepoint('sched:sched_switch')\n"
                   "def on_switch(ctx):\n"
                   "    counts[ctx.prev_pid] += 1\n\n"
                   "from pybpf.compiler.errors import CompileError\n"
                   "try:\n    on_switch.insns\nexcept CompileError as e:\n"
                   "    print('CompileError', e.loc.line, e.message)\n"
                   "else:\n    print('compiled')\n")
    res = subprocess.run([sys.executable, str(mod)], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=60)
    assert no_traceback(res.stderr), res.stderr
    assert res.stdout.startswith(("CompileError", "compiled")), res.stdout + res.stderr
    assert "internal" not in res.stdout, res.stdout


@pytest.mark.parametrize("damage", ["truncated", "bad-magic", "missing"])
@pytest.mark.parametrize("argv", [["runqlat", "1", "1"], ["tcpstates"]], ids=["runqlat", "tcpstates"])
def test_damaged_btf_file_via_environment(tmp_path, damage: str, argv: list[str]) -> None:
    """PYBPF_BTF names the kernel BTF to use (as bpftrace's BPFTRACE_BTF): a damaged or
    missing file ends a tool that needs BTF with one line naming the file, status 1."""
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        real = f.read()
    path = tmp_path / "vmlinux.btf"
    if damage == "truncated":
        path.write_bytes(real[:len(real) // 2])
    elif damage == "bad-magic":
        path.write_bytes(b"\x00\x00" + real[2:])
    env = dict(child_env(), PYBPF_BTF=str(path))
    res = subprocess.run([sys.executable, "-m", "pybpf.cli", *argv], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=60)
    assert res.returncode == 1, (res.returncode, res.stderr)
    err = res.stderr.strip()
    assert no_traceback(err) and len(err.splitlines()) == 1, err
    assert f"pybpf {argv[0]}: cannot use the kernel's BTF: {path}" in err, err


def test_btf_file_via_environment_is_used() -> None:
    """The control: PYBPF_BTF naming the real file works like the default."""
    env = dict(child_env(), PYBPF_BTF="/sys/kernel/btf/vmlinux")
    res = subprocess.run([sys.executable, "-m", "pybpf.cli", "runqlat", "1", "1"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert res.returncode == 0 and "usecs" in res.stdout, res.stdout + res.stderr
