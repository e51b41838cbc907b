"""Failures around a command end it with one line, never a traceback, for every command:

- standard output closed (`>&-`) or full (`>/dev/full`): "pybpf CMD: write error: ..." on
  stderr, exit 1 (as coreutils does);
- a reader that goes away (`| head -1`): a quiet end, exit 0, and no "Exception ignored ...
  BrokenPipeError" as the interpreter exits;
- an open-file limit of 12 to 32 (EMFILE): one line that says the limit is too low and what
  it is, and no uprobe left in tracefs.

Before: /dev/full and most EMFILE points gave tracebacks, a closed stdout exited 0 having
written nothing, and `pybpf trace` said "[Errno 32] Broken pipe"."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from pybpf import tools
from tests.reliability.common import (
    ROOT,
    Proc,
    child_env,
    default_sigint,
    no_traceback,
    tracefs_entries,
)
from tests.util import LIBC, requires_root, tool_args

pytestmark = requires_root

TOOL_ARGS = {name: tool_args(name) for name in ("funclatency", "pythongc", "funccount",
                                                "stackcount")}
# positional durations (the others take --duration)
POSITIONAL_DURATION = {"offcputime", "profile"}


def _tool_argv(name: str, seconds: str = "1") -> list[str]:
    end = [seconds] if name in POSITIONAL_DURATION else ["--duration", seconds]
    return [name, *TOOL_ARGS.get(name, []), *end]


def _object(name: str) -> str:
    from tests.elf.build import build

    return build(name)


# stderr lines a command prints while it works (not errors)
INFO = ("Attaching ", "pybpf snapshot: collecting", "pybpf export: serving")


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.strip().splitlines()
            if ln.strip() and not ln.startswith(INFO) and ": attached" not in ln]


_unsupported: set[str] | None = None


def unsupported() -> set[str]:
    """The tools this kernel lacks a hook for (they end with their own line)."""
    global _unsupported
    if _unsupported is None:
        from pybpf.tools import catalog

        _unsupported = {r["tool"] for r in catalog.rows() if not r["supported"]}
    return _unsupported


# -- standard output ------------------------------------------------------------------------

def _output_commands() -> list[list[str]]:
    return [
        ["features"], ["prog", "list"], ["map", "list"], ["tools"], ["snapshot", "-d", "1"],
        ["trace", 'BEGIN { printf("hi\\n"); exit(); }'],
        ["trace", "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } "
                  "interval:ms:300 { exit(); }"],
        ["run", "COUNTER", "-d", "0.5"],
    ] + [[name, *TOOL_ARGS.get(name, [])] for name in tools.TOOLS]


OUTPUT_COMMANDS = _output_commands()


def _start(argv: list[str], stdout: int, preexec=None, buffered: bool = False
           ) -> subprocess.Popen:
    argv = [_object("counter") if a == "COUNTER" else a for a in argv]
    env = child_env()
    if buffered:  # as a user runs it: stdout block-buffered to files and pipes
        env.pop("PYTHONUNBUFFERED", None)

    def child() -> None:
        default_sigint()
        if preexec is not None:
            preexec()

    return subprocess.Popen([sys.executable, "-m", "pybpf.cli", *argv], stdout=stdout,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=env, cwd=ROOT, preexec_fn=child)


def _finish(p: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        raise AssertionError(f"{p.args[3:]} did not end: {err[-2000:]}") from None
    return p.returncode, err


def _close_stdout() -> None:
    os.close(1)


@pytest.mark.parametrize("argv", OUTPUT_COMMANDS, ids=[" ".join(a)[:40] for a in OUTPUT_COMMANDS])
def test_stdout_that_cannot_be_written(argv: list[str]) -> None:
    """Closed (EBADF) and full (ENOSPC): one line, exit 1. A pipe without a reader (EPIPE):
    exit 0, nothing on stderr but the command's own messages."""
    name = " ".join(argv[:2]) if argv[0] in ("prog", "map") else argv[0]
    if argv[0] in unsupported():
        pytest.skip(f"this kernel lacks what {argv[0]} needs")
    r, w = os.pipe()
    os.close(r)  # nobody will ever read: every write is EPIPE
    with open("/dev/full", "w") as full:
        procs = {"closed": _start(argv, subprocess.DEVNULL, _close_stdout),
                 "full": _start(argv, full.fileno()),
                 "pipe": _start(argv, w)}
    os.close(w)
    results = {k: _finish(p) for k, p in procs.items()}
    for how, error in (("closed", "Bad file descriptor"), ("full", "No space left on device")):
        rc, err = results[how]
        assert no_traceback(err) and "Exception ignored" not in err, (how, err)
        assert rc == 1, (how, rc, err)
        assert _error_lines(err) == [f"pybpf {name}: write error: {error}"], (how, err)
    rc, err = results["pipe"]
    assert no_traceback(err) and "Exception ignored" not in err, err
    assert "Broken pipe" not in err and "BrokenPipeError" not in err, err
    assert rc == 0, (rc, err)
    assert _error_lines(err) == [], err


BUFFERED = [["features"], ["prog", "list"], ["tools"], ["run", "COUNTER", "-d", "0.5"],
            ["trace", 'BEGIN { printf("hi\\n"); exit(); }'], ["opensnoop"]]


@pytest.mark.parametrize("argv", BUFFERED, ids=[" ".join(a)[:40] for a in BUFFERED])
def test_buffered_stdout_that_cannot_be_written(argv: list[str]) -> None:
    """Without PYTHONUNBUFFERED what is written may stay buffered until the end: the failure
    is still said in one line (not "Exception ignored" at exit), and EPIPE still quiet."""
    name = " ".join(argv[:2]) if argv[0] in ("prog", "map") else argv[0]
    r, w = os.pipe()
    os.close(r)
    with open("/dev/full", "w") as full:
        procs = {"full": _start(argv, full.fileno(), buffered=True),
                 "pipe": _start(argv, w, buffered=True)}
    os.close(w)
    rc, err = _finish(procs["full"])
    assert no_traceback(err) and "Exception ignored" not in err, err
    assert (rc, _error_lines(err)) == (1, [f"pybpf {name}: write error: No space left on "
                                            "device"]), err
    rc, err = _finish(procs["pipe"])
    assert no_traceback(err) and "Exception ignored" not in err, err
    assert (rc, _error_lines(err)) == (0, []), err


@pytest.mark.parametrize("argv", [["execsnoop"],
                                  ["trace", "tracepoint:sched:sched_process_exec { "
                                            "printf(\"%s\\n\", comm); }"]],
                         ids=["execsnoop", "trace"])
def test_head_ends_the_command_quietly(argv: list[str]) -> None:
    """`pybpf execsnoop | head -1`: the reader takes one line and leaves; the command's next
    write ends it, with status 0 and nothing said."""
    p = _start(argv, subprocess.PIPE)
    assert p.stdout is not None
    first = ""
    deadline = time.monotonic() + 120
    # no line may come until something execs (a quiet CI machine execs nothing): give it execs
    while not first and p.poll() is None and time.monotonic() < deadline:
        if select.select([p.stdout], [], [], 0.1)[0]:
            first = p.stdout.readline()
        else:
            subprocess.run(["/bin/true"])
    p.stdout.close()  # what head does after its line
    assert first, f"no first line: {_finish(p)}"
    for _ in range(600):  # execs give the command more to write
        if p.poll() is not None:
            break
        subprocess.run(["/bin/true"])
        time.sleep(0.05)
    rc, err = _finish(p)
    assert no_traceback(err) and "Exception ignored" not in err, err
    assert "Broken pipe" not in err and "BrokenPipeError" not in err, err
    assert rc == 0, (rc, err)


# -- the open-file limit --------------------------------------------------------------------

LIMITS = (12, 16, 22, 32)  # where start-up, compile, load and attach each run out


def _emfile_commands() -> list[list[str]]:
    return [
        ["features"], ["prog", "list"], ["map", "list"], ["tools"], ["snapshot", "-d", "1"],
        ["trace", "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } "
                  "interval:ms:300 { exit(); }"],
        ["trace", f"uprobe:{LIBC}:getpid {{ @n = count(); }} interval:ms:300 {{ exit(); }}"],
        ["trace", "profile:hz:99 { @[kstack] = count(); } interval:ms:300 { exit(); }"],
        ["run", "COUNTER", "-d", "0.5"],
        ["export", "--listen", "127.0.0.1:0"],
    ] + [_tool_argv(name) for name in tools.TOOLS[::2]]  # every other tool: they share
    # their start-up, compile, load and attach code (the session), and each costs 4 runs


EMFILE_COMMANDS = _emfile_commands()


@pytest.mark.parametrize("argv", EMFILE_COMMANDS, ids=[" ".join(a)[:40] for a in EMFILE_COMMANDS])
def test_too_few_file_descriptors(argv: list[str]) -> None:
    """At each open-file limit from 12 to 32 the command either works (exit 0) or ends with
    the one line that says the limit; nothing stays in tracefs."""
    name = " ".join(argv[:2]) if argv[0] in ("prog", "map") else argv[0]
    argv = [_object("counter") if a == "COUNTER" else a for a in argv]
    procs = [(n, Proc(argv, prelude=f"import resource\nresource.setrlimit("
                                       f"resource.RLIMIT_NOFILE, ({n}, {n}))\n"))
             for n in LIMITS]
    problems = []
    try:
        for n, p in procs:
            if argv[0] == "export":  # serves until told to stop (when it got its files)
                try:
                    p.wait_output(timeout=120, stream="err", text="pybpf export:")
                except AssertionError as e:
                    problems.append(f"limit {n}: {e}")
                    continue
                if "serving" in p.stderr:
                    p.signal(signal.SIGINT)
            try:
                rc = p.finish(timeout=120)
            except AssertionError as e:
                problems.append(f"limit {n}: {e}")
                continue
            err = p.stderr
            if tracefs_entries(p.pid):  # (its BPF objects went with its fds)
                problems.append(f"limit {n}: left in tracefs: {tracefs_entries(p.pid)}")
            if not no_traceback(err) or "Exception ignored" in err:
                problems.append(f"limit {n}: traceback: {err[-3000:]}")
                continue
            lines = _error_lines(err)
            if rc == 0:
                continue
            if argv[0] in unsupported() and rc == 1 and len(lines) == 1 and \
                    "open files" not in lines[0]:
                continue  # its own line about this kernel, before it needed many files
            want = (f"pybpf {name}: too many open files: the open-file limit (ulimit -n) is "
                    f"{n} (hard limit {n})")
            if rc != 1 or len(lines) != 1 or not lines[0].startswith(want):
                problems.append(f"limit {n}: exit {rc}: {err[-2000:]}")
    finally:
        for _, p in procs:
            if p.proc.poll() is None:
                p.kill()
    assert not problems, "\n".join(problems)
