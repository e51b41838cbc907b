"""pybpf trace: flags, probe types, semantic errors (positioned, exit code 1, no traceback)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.util import requires_root

DD = "/usr/bin/dd if=/etc/passwd of=/dev/null bs=64 count=5 status=none"


ATTACHING = re.compile(r"Attaching \d+ probes?\.\.\.\n")


def trace(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`pybpf trace ARGS`. What the program printed is `.stdout`; the "Attaching N
    probes..." line that comes first on stdout (as in bpftrace) is taken off it into
    `.attaching` (one line or "")."""
    res = subprocess.run([sys.executable, "-m", "pybpf.cli_trace", *args], capture_output=True,
                         text=True, timeout=timeout)
    m = ATTACHING.match(res.stdout)
    res.attaching = m.group(0) if m else ""  # type: ignore[attr-defined]
    res.stdout = res.stdout[m.end():] if m else res.stdout
    return res


@pytest.mark.parametrize("prog, words, col", [
    ("kprobe:do_nanosleep { @ = count(); }", "kprobes are not available", 1),
    ("kretprobe:vfs_read { @ = count(); }", "kretprobes are not available", 1),
    ("nosuch:thing { }", "unknown probe type", 1),
    ("tracepoint:nosuch:thing { }", "unknown tracepoint", 1),
    ("t:syscalls:sys_enter_openat { @ = args->nosuch; }", "has no field 'nosuch'", 39),
    ("BEGIN { @x = nosuch(1); }", "unknown function: nosuch()", 14),
    ("BEGIN { @x = 1; @x = \"s\"; }", "type mismatch for @x", 17),
    ("BEGIN { $x = 1 + \"s\"; }", "type mismatch for '+'", 16),
    ("BEGIN { @x = $nope; }", "undefined variable: $nope", 14),
    ("BEGIN { printf(\"%d %d\\n\", 1); }", "Not enough arguments for format string", 9),
    ("BEGIN { system(\"ls\"); }", "--unsafe", 9),
    ("BEGIN { @x = nosuch; }", "unknown identifier", 14),
    ("BEGIN { @x = count(1); }", "count() takes 0 arguments", 14),
    ("BEGIN { @x = 1 +; }", "syntax error", 17),
])
def test_errors(prog: str, words: str, col: int) -> None:
    res = trace("-e", prog)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith(f"stdin:1:{col}: error: "), res.stderr
    assert words in first
    assert res.stderr.splitlines()[2].index("^") == col - 1


def test_script_file_errors(tmp_path: pytest.TempPathFactory) -> None:
    script = tmp_path / "x.bt"  # type: ignore[operator]
    script.write_text("BEGIN\n{\n  @x = nosuch();\n}\n")
    res = trace(str(script))
    assert res.returncode == 1
    assert res.stderr.startswith(f"{script}:3:8: error: unknown function")


@requires_root
def test_script_file_and_params(tmp_path: pytest.TempPathFactory) -> None:
    script = tmp_path / "x.bt"  # type: ignore[operator]
    script.write_text("#!/usr/bin/env bpftrace\nBEGIN\n{\n  printf(\"%d %s\\n\", $1, $2);\n"
                      "  exit();\n}\n")
    res = trace(str(script), "7", "seven")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("7 seven\n")


@requires_root
def test_attaching_message_and_quiet() -> None:
    res = trace("-e", "BEGIN { exit(); } t:syscalls:sys_enter_read { }")
    # first on stdout, as bpftrace prints it
    assert res.attaching == "Attaching 2 probes...\n" and "Attaching" not in res.stderr
    res = trace("-q", "-e", "BEGIN { exit(); }")
    assert "Attaching" not in res.stdout + res.stderr + res.attaching


@requires_root
def test_json_and_output_file(tmp_path: pytest.TempPathFactory) -> None:
    out = tmp_path / "out.json"  # type: ignore[operator]
    res = trace("-f", "json", "-o", str(out), "-e",
                "BEGIN { printf(\"hi\\n\"); @c = count(); @h = hist(5); @k[\"a\"] = 2; exit(); }")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {"type": "printf", "data": "hi\n"} in rows
    assert {"type": "map", "data": {"@c": 1}} in rows
    assert {"type": "map", "data": {"@k": {"a": 2}}} in rows
    assert {"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 1}]}} in rows


@requires_root
def test_verbose_and_debug() -> None:
    res = trace("-v", "-d", "-e", "BEGIN { @x = pid; exit(); }")
    assert res.returncode == 0
    assert "call bpf_get_current_pid_tgid" in res.stderr or "call 14" in res.stderr
    assert "AST:" in res.stderr and "IR of BEGIN" in res.stderr


@requires_root
def test_list() -> None:
    res = trace("-l", "tracepoint:sched:sched_switch")
    assert res.stdout.splitlines() == ["tracepoint:sched:sched_switch"]
    res = trace("-l", "software:*")
    assert "software:cpu-clock:" in res.stdout
    res = trace("-l", "uprobe:/lib/x86_64-linux-gnu/libc.so.6:mallo*")
    assert any(line.endswith("libc.so.6:malloc") for line in res.stdout.splitlines())


@requires_root
@pytest.mark.parametrize("prog, expect", [
    ("rawtracepoint:sys_enter /pid == cpid/ { @ = count(); }", "@: "),
    ("profile:ms:10 { @p = count(); } interval:ms:200 { exit(); }", "@p: "),
    ("t:syscalls:sys_enter_openat /pid == cpid/ { @[comm, uid, gid, tid == pid] = count(); }",
     "@[dd, 0, 0, 1]: "),
    ("t:syscalls:sys_enter_read /pid == cpid/ { @[kstack, ustack] = count(); }", "@["),
    ("t:syscalls:sys_enter_read /pid == cpid/ { @c[cpu >= 0, cgroup > 0, rand >= 0, "
     "elapsed > 0, nsecs > 0, curtask > 0] = count(); }", "@c[1, 1, 1, 1, 1, 1]"),
    ("uretprobe:/lib/x86_64-linux-gnu/libc.so.6:getpid /pid == cpid/ { @[retval == cpid] = "
     "count(); }", ""),
    ("uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc /pid == cpid/ { @[func] = count(); "
     "exit(); }", "@[malloc]: "),  # more than 1, as in bpftrace: dd runs on until the exit
    ("BEGIN { printf(\"%s|%s\\n\", ksym(kaddr(\"vfs_read\")), strftime(\"%Y\", nsecs)); "
     "time(\"%H\\n\"); exit(); }", "vfs_read|20"),
    ("BEGIN { @x[\"a\"] = 1; print(@x); clear(@x); print((1, \"b\")); print(5); exit(); }",
     "@x[a]: 1\n(1, b)\n5\n"),
    ("t:syscalls:sys_enter_write /pid == cpid/ { @[username] = count(); }", "@[root]: "),
])
def test_probe_types_and_builtins(prog: str, expect: str) -> None:
    res = trace("-e", prog, "-c", DD)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert expect in res.stdout


@requires_root
def test_interval_without_command() -> None:
    res = trace("-e", "interval:ms:100 { @i++; if (@i == 2) { exit(); } }")
    assert res.stdout == "\n\n@i: 2\n"


@requires_root
def test_hardware_event_clear_error_or_counts() -> None:
    res = trace("-e", "hardware:cpu-cycles:100000 { @ = count(); } interval:ms:200 { exit(); }")
    assert "Traceback" not in res.stderr
    assert res.returncode == 0 or "no hardware performance counters" in res.stderr


@requires_root
def test_unsafe_system_and_signal() -> None:
    res = trace("--unsafe", "-e", "BEGIN { system(\"echo %d\", 42); cat(\"/proc/sys/kernel/ostype\");"
                " exit(); }")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("42\nLinux\n")
    res = trace("--unsafe", "-e", "t:syscalls:sys_enter_nanosleep /pid == cpid/ { signal(\"KILL\"); }",
                "-c", "/usr/bin/sleep 5", timeout=20)
    assert res.returncode == 0, res.stderr


@requires_root
def test_ctrl_c_prints_maps() -> None:
    import signal
    import time

    p = subprocess.Popen([sys.executable, "-m", "pybpf.cli_trace", "-e",
                          "t:syscalls:sys_enter_read { @r = count(); } "
                          "END { printf(\"end\\n\"); }"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    line = ""
    while "Attaching" not in line and time.time() < deadline:
        line = p.stdout.readline()  # type: ignore[union-attr]
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=20)
    assert p.returncode == 0
    assert out.startswith("end\n\n\n@r: ")
