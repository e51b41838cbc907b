"""One-liners from bpftrace's tutorial and one-liner collection (adapted only where a probe
type is missing here: kprobes become tracepoints), each with a workload, and a parser for
bpftrace's text output so that two runs can be compared structurally."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from tests.util import LIBC

DD = "/usr/bin/dd if=/etc/passwd of=/dev/null bs=64 count=5 status=none"
SLEEP = "/usr/bin/sleep 0.4"

# (program, workload for -c or None, exact): exact=True compares keys and values exactly
# exact=None: bpftrace 0.17 does not end a BEGIN/END-only program by itself (newer versions
# do, and pybpf does): run by pybpf only.
CORPUS: list[tuple[str, str | None, bool | None]] = [
    # deterministic: filtered on the traced command
    ("t:syscalls:sys_enter_read /comm == \"dd\"/ { @reads = count(); }", DD, True),
    ("t:syscalls:sys_enter_read /comm == \"dd\"/ { @sz = hist(args->count); }", DD, True),
    ("t:syscalls:sys_exit_read /comm == \"dd\"/ { @bytes = sum(args->ret); }", DD, True),
    ("t:syscalls:sys_exit_read /comm == \"dd\" && args->ret > 0/ { @r = hist(args->ret); }", DD,
     True),
    ("t:syscalls:sys_exit_read /comm == \"dd\"/ { @r = lhist(args->ret, 0, 1000, 100); }", DD, True),
    ("t:syscalls:sys_exit_read /comm == \"dd\"/ { @s = stats(args->ret); }", DD, True),
    ("t:syscalls:sys_exit_read /comm == \"dd\"/ { @a = avg(args->ret); }", DD, True),
    ("t:syscalls:sys_exit_read /comm == \"dd\"/ { @mn = min(args->ret); @mx = max(args->ret); }",
     DD, True),
    ("t:raw_syscalls:sys_enter /comm == \"dd\"/ { @[args->id] = count(); }", DD, True),
    ("t:syscalls:sys_enter_openat /comm == \"dd\"/ { @[str(args->filename)] = count(); }", DD, True),
    ("t:syscalls:sys_enter_openat /comm == \"dd\"/ { printf(\"%s\\n\", str(args->filename)); }", DD,
     True),
    ("t:syscalls:sys_enter_write /comm == \"dd\"/ { @[args->fd] = sum(args->count); }", DD, True),
    ("t:syscalls:sys_exit_openat /comm == \"dd\"/ { @ok[args->ret >= 0 ? 1 : 0] = count(); }", DD,
     True),
    ("t:syscalls:sys_enter_open* /comm == \"dd\"/ { @[probe] = count(); }", DD, True),
    ("t:syscalls:sys_enter_close /comm == \"dd\"/ { @c[comm] = count(); }", DD, True),
    ("t:syscalls:sys_enter_close /comm == \"dd\"/ { @c[comm, args->fd] = count(); }", DD, True),
    ("t:syscalls:sys_enter_read, t:syscalls:sys_enter_write /comm == \"dd\"/ { @[probe] = count(); }",
     DD, True),
    ("t:syscalls:sys_enter_read /comm == \"dd\"/ { @[args->fd, args->count] = count(); }", DD, True),
    ("t:syscalls:sys_exit_read /comm == \"dd\"/ { @[comm] = hist(args->ret); }", DD, True),
    ("t:syscalls:sys_enter_execve /pid == cpid/ { printf(\"%s\\n\", str(args->filename)); }",
     DD, True),
    ("t:syscalls:sys_enter_execve /pid == cpid/ { join(args->argv); }", DD, True),
    ("t:sched:sched_process_exit /comm == \"dd\"/ { printf(\"exit %s\\n\", comm); }", DD, True),
    ("t:syscalls:sys_enter_read /comm == \"dd\"/ { $x = args->count * 2; @d = sum($x); }", DD, True),
    ("t:syscalls:sys_enter_read /comm == \"dd\"/ { @n++; }", DD, True),
    ("t:syscalls:sys_exit_read /comm == \"dd\"/ { @t += args->ret; }", DD, True),
    ("t:syscalls:sys_enter_mmap /comm == \"dd\"/ { @len = hist(args->len); }", DD, True),
    ("t:syscalls:sys_enter_newfstatat /comm == \"dd\"/ { @s = count(); } "
     "t:syscalls:sys_enter_fadvise64 /comm == \"dd\"/ { @f = count(); }", DD, True),
    ("t:syscalls:sys_enter_read /pid == cpid/ { @[comm] = count(); }", DD, True),
    ("t:syscalls:sys_enter_read /comm == \"dd\"/ { if (args->count > 100) { @big = count(); } "
     "else { @small = count(); } }", DD, True),
    (f"uprobe:{LIBC}:malloc /comm == \"dd\"/ {{ @m = count(); }}", DD, True),
    # kernel structs through typed pointers: the task's own fields, a user-space timespec
    ("t:syscalls:sys_enter_read /comm == \"dd\"/ { @[curtask->comm, curtask->tgid == pid, "
     "curtask->real_parent->tgid > 0] = count(); }", DD, True),
    ("t:syscalls:sys_enter_clock_nanosleep /comm == \"sleep\"/ { "
     "@[args->rqtp->tv_sec, args->rqtp->tv_nsec] = count(); }", SLEEP, True),
    (f"uretprobe:{LIBC}:malloc /comm == \"dd\"/ {{ @r = count(); }}", DD, True),
    (f"uprobe:{LIBC}:malloc /comm == \"dd\"/ {{ @sz = hist(arg0); }}", DD, True),
    # BEGIN/END programs: exact
    ("BEGIN { printf(\"hello\\n\"); exit(); }", None, True),
    ("BEGIN { printf(\"Hello, World!\\n\"); }", None, None),
    ("BEGIN { @x = 1; @y[\"a\"] = 2; @z[1, \"b\"] = 3; exit(); }", None, True),
    ("BEGIN { $a = 10; $b = $a * 3 + 2; printf(\"%d %d\\n\", $a, $b); exit(); }", None, True),
    ("BEGIN { printf(\"%-10s|%5d|%x|%u|%05d\\n\", \"ab\", 42, 255, 3, 42); exit(); }", None,
     True),
    ("BEGIN { @h = hist(1); @h = hist(2); @h = hist(1000); @h = hist(0); exit(); }", None, True),
    ("BEGIN { @l = lhist(5, 0, 100, 10); @l = lhist(150, 0, 100, 10); @l = lhist(-1, 0, 100, 10);"
     " exit(); }", None, True),
    ("BEGIN { $i = 0; while ($i < 5) { $i++; } printf(\"%d\\n\", $i); exit(); }", None, True),
    ("BEGIN { unroll(4) { @c = count(); } exit(); }", None, True),
    ("BEGIN { @t = (1, \"two\", 3); exit(); }", None, True),
    ("BEGIN { $x = (uint8)257; $y = (int8)255; printf(\"%d %d\\n\", $x, $y); exit(); }", None,
     True),
    ("BEGIN { @a = 5; @a += 3; @a -= 1; @b++; @b++; @c--; exit(); }", None, True),
    ("BEGIN { if (1 > 2) { printf(\"no\\n\"); } else { printf(\"yes\\n\"); } exit(); }", None,
     True),
    ("BEGIN { printf(\"%s\\n\", 1 ? \"a\" : \"b\"); exit(); }", None, True),
    ("BEGIN { @s = stats(10); @s = stats(4); @v = avg(7); @v = avg(8); @mn = min(3); "
     "@mn = min(2); @mx = max(9); exit(); }", None, True),
    ("BEGIN { @x[1] = 1; @x[2] = 2; delete(@x[1]); exit(); }", None, True),
    ("BEGIN { @x[1] = 1; clear(@x); @y = 1; exit(); }", None, True),
    ("BEGIN { @x = count(); zero(@x); exit(); }", None, True),
    ("BEGIN { @ = 1; print(@); printf(\"after\\n\"); exit(); }", None, True),
    ("BEGIN { printf(\"%d %d\\n\", 7 / 2, 7 % 3); printf(\"%d\\n\", (1 << 10) | 3); exit(); }",
     None, True),
    ("BEGIN { printf(\"%s\\n\", ntop(0x0100007f)); exit(); }", None, True),
    ("BEGIN { @[\"x\"] = count(); @[\"y\"] = count(); @[\"x\"] = count(); exit(); }", None, True),
    ("END { printf(\"end\\n\"); }", None, None),
    ("BEGIN { printf(\"%s\\n\", probe); } END { printf(\"%s\\n\", probe); }", None, None),
    ("BEGIN { @n = -3; @m = (uint32)-1; @e = (uint64)-1; exit(); }", None, True),
    ("BEGIN { $s = \"abc\"; if ($s == \"abc\") { printf(\"eq\\n\"); } exit(); }", None, True),
    ("BEGIN { printf(\"%d\\n\", !0 + ~0 + -(3)); exit(); }", None, True),
    ("interval:ms:50 { @i++; if (@i == 3) { exit(); } }", None, True),
    # system-wide: compared by map names and non-emptiness
    ("t:syscalls:sys_enter_openat { @[comm] = count(); }", SLEEP, False),
    ("t:raw_syscalls:sys_enter { @[comm] = count(); }", SLEEP, False),
    ("t:sched:sched_switch { @[args->prev_comm] = count(); }", SLEEP, False),
    ("t:sched:sched_process_exec { @[comm] = count(); }", SLEEP, False),
    ("profile:hz:99 { @[cpu] = count(); }", SLEEP, False),
    ("profile:hz:49 { @[kstack] = count(); }", SLEEP, False),
    ("t:syscalls:sys_exit_read /args->ret > 0/ { @ = hist(args->ret); }", SLEEP, False),
    ("t:syscalls:sys_enter_clock_nanosleep { @[comm, pid] = count(); }", SLEEP, False),
    ("software:cpu-clock:1000000 { @[comm] = count(); }", SLEEP, False),
    ("t:sched:sched_wakeup { @[args->comm] = count(); }", SLEEP, False),
    ("t:raw_syscalls:sys_exit /args->ret < 0/ { @[comm] = count(); }", SLEEP, False),
    ("t:syscalls:sys_enter_* /pid == cpid/ { @[probe] = count(); }", SLEEP, False),
]

MAP_LINE = re.compile(r"^(@\w*)(\[.*\])?: (.*)$")


def parse_output(text: str) -> tuple[dict[str, dict[str, object]], list[str]]:
    """bpftrace text -> ({map: {key: value or hist lines}}, other lines)."""
    maps: dict[str, dict[str, object]] = {}
    other: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("@[\n") or line == "@[" or (line.startswith("@") and line.endswith("[")):
            # a stack key: up to the "]: value" line
            name = line[:-1]
            j = i + 1
            while j < len(lines) and not lines[j].startswith("]: "):
                j += 1
            key = "\n".join(lines[i + 1:j])
            if j < len(lines):
                maps.setdefault(name, {})[key] = int(lines[j][3:])
            i = j + 1
            continue
        m = MAP_LINE.match(line)
        if m:
            name, key, value = m.group(1), m.group(2) or "", m.group(3)
            if value == "":  # a histogram follows
                j = i + 1
                buckets = []
                while j < len(lines) and lines[j].strip():
                    buckets.append(lines[j])
                    j += 1
                maps.setdefault(name, {})[key] = buckets
                i = j
                continue
            maps.setdefault(name, {})[key] = value
        elif line.strip() and not any(w in line for w in ("records", "copied", "Attaching")):
            other.append(line)
        i += 1
    return maps, other


def drop_tracer(maps: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """Remove keys the tracers add themselves (their own pre-exec syscalls)."""
    return {n: {k: v for k, v in m.items() if "bpftrace" not in k and "python" not in k}
            for n, m in maps.items()}


def run_tool(tool: str, prog: str, workload: str | None, timeout: float = 60) -> str:
    if tool == "bpftrace":
        cmd = [shutil.which("bpftrace") or "bpftrace"]
    else:
        cmd = [sys.executable, "-m", "pybpf.cli_trace"]
    cmd += ["-e", prog]
    if workload:
        cmd += ["-c", workload]
    env = dict(os.environ, LC_ALL="C", LANG="C")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if res.returncode != 0:
        raise AssertionError(f"{tool} failed ({res.returncode}): {res.stderr[-2000:]}")
    return res.stdout
