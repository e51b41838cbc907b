"""Kernel structs in one-liners (issue 27 item 9, issue 18 item 2): fields through typed
kernel pointers (`curtask->real_parent->tgid`, casts, variables, map values), embedded
structs and arrays, typed tracepoint pointers in user memory, pointer arithmetic scaled by
the size, sizeof of types and expressions, bswap. Each value is checked against what the
process or the kernel's BTF says, not against pybpf itself."""

from __future__ import annotations

import os
import struct
import sys

import pytest

from pybpf.btf import kernel_btf
from tests.lang.test_cli_trace import trace
from tests.util import requires_root

pytestmark = requires_root

# the child writes its own pid, parent pid, grandparent pid and CPU mask, then calls
# getppid (the probe's event) and nanosleep(1.25 s) through the raw syscall
CHILD = r"""
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
gp = int(open(f"/proc/{os.getppid()}/stat").read().rsplit(")", 1)[1].split()[1])
mask = sum(1 << c for c in os.sched_getaffinity(0) if c < 64)
open(sys.argv[1], "w").write(f"{os.getpid()} {os.getppid()} {gp} {mask}")
libc.syscall(110)
libc.syscall(35, ctypes.create_string_buffer(struct.pack("qq", 0, 125_000_000)), None)
"""


def _run_child(prog: str, tmp_path) -> tuple[str, list[int]]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = tmp_path / "ids"
    res = trace("-e", prog, "-c", f"{sys.executable} {script} {out}")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout, [int(x) for x in out.read_text().split()]


def test_fields_through_curtask_and_casts(tmp_path) -> None:
    stdout, (pid, ppid, gppid, mask) = _run_child(
        "t:syscalls:sys_enter_getppid /pid == cpid/ { $t = (struct task_struct *)curtask; "
        "$p = $t->real_parent; printf(\"%d %d %d %d %s %d\\n\", curtask->tgid, "
        "$p->tgid, $p->real_parent->pid, $t->cpus_mask.bits[0], $t->comm, "
        "$t->mm->map_count > 0); }", tmp_path)
    words = stdout.split()
    assert [int(w) for w in words[:4]] == [pid, ppid, gppid, mask], stdout
    assert words[4] == "python3"[:len(words[4])] and words[5] == "1", stdout


def test_typed_pointer_in_a_map_and_a_loop(tmp_path) -> None:
    stdout, (pid, ppid, gppid, _) = _run_child(
        "t:syscalls:sys_enter_getppid /pid == cpid/ { @t[1] = curtask; $p = curtask; $i = 0; "
        "while ($i < 2) { $p = $p->real_parent; printf(\"%d \", $p->pid); $i++; } "
        "printf(\"%d\\n\", @t[1]->tgid); }", tmp_path)
    assert [int(w) for w in stdout.split()[:3]] == [ppid, gppid, pid], stdout


def test_tracepoint_pointer_to_a_user_struct(tmp_path) -> None:
    """args->rqtp is a struct __kernel_timespec * in the process's memory."""
    stdout, _ = _run_child(
        "t:syscalls:sys_enter_nanosleep /pid == cpid/ { $ts = (int64 *)args->rqtp; "
        "printf(\"%d %d %d %d\\n\", args->rqtp->tv_sec, args->rqtp->tv_nsec, $ts[1], "
        "*($ts + 1)); }", tmp_path)
    assert stdout.split()[:4] == ["0", "125000000", "125000000", "125000000"], stdout


def test_sizeof_and_pointer_arithmetic() -> None:
    btf = kernel_btf()
    task, se = btf.sizeof("struct task_struct"), btf.sizeof("struct sched_entity")
    res = trace("-e", "BEGIN { $t = (struct task_struct *)0; printf(\"%d %d %d %d %d %d %d "
                      "%d %d\\n\", sizeof(struct task_struct), sizeof(*$t), sizeof(curtask->se), "
                      "sizeof(curtask->comm), sizeof(uint16), sizeof(int32), "
                      "sizeof((1, \"ab\")), (uint64)($t + 2), (uint64)(((uint32 *)0) + 3)); "
                      "exit(); }")
    assert res.returncode == 0, res.stderr
    assert [int(w) for w in res.stdout.split()[:9]] == [task, task, se, 16, 2, 4, 16,
                                                       2 * task, 12], res.stdout


def test_bswap() -> None:
    res = trace("-e", "BEGIN { printf(\"%x %x %lx %x\\n\", bswap((uint16)0x1234), "
                      "bswap((uint32)0x11223344), bswap((uint64)0x0102030405060708), "
                      "bswap((uint8)7)); exit(); }")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[:4] == ["3412", "44332211", "807060504030201", "7"], res.stdout


def test_embedded_struct_fields_of_a_socket() -> None:
    """inet_sock_set_state's skaddr is a void *: cast to struct sock, its embedded
    __sk_common must hold the same local port the tracepoint reports."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]

    def connect() -> None:
        import time

        time.sleep(1.5)
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", port))
            c.close()

    t = threading.Thread(target=connect)
    t.start()
    try:
        res = trace("-e", "t:sock:inet_sock_set_state /args->dport == " + str(port) + " && "
                    "args->newstate == TCP_ESTABLISHED/ { "
                    "$sk = (struct sock *)args->skaddr; printf(\"%d %d %d\\n\", args->sport, "
                    "$sk->__sk_common.skc_num, $sk->__sk_common.skc_family); exit(); }",
                    timeout=60)
    finally:
        t.join()
        srv.close()
    assert res.returncode == 0, res.stderr
    sport, num, family = (int(w) for w in res.stdout.split()[:3])
    assert sport == num != 0 and family == socket.AF_INET, res.stdout


@pytest.mark.parametrize("prog, words, col", [
    ("BEGIN { @ = curtask->nosuchfield; }", "struct task_struct has no member 'nosuchfield'",
     20),
    ("BEGIN { @ = (struct nosuchstruct *)0; }", "unknown type 'struct nosuchstruct'", 13),
    ("BEGIN { $p = 5; @ = $p->pid; }", "cannot access field 'pid' of int64", 23),
    ("BEGIN { @ = sizeof(struct nosuchstruct); }", "unknown type 'struct nosuchstruct'", 20),
])
def test_errors(prog: str, words: str, col: int) -> None:
    res = trace("-e", prog)
    assert res.returncode == 1, res.stdout
    first = res.stderr.splitlines()[0]
    assert first.startswith(f"stdin:1:{col}: error: "), res.stderr
    assert words in first and "Traceback" not in res.stderr, res.stderr


def test_kaddr_of_a_variable_says_why_it_is_absent() -> None:
    from pybpf.symbols.kallsyms import kernel_symbols

    if kernel_symbols().data_symbols >= 1000 or "avenrun" in kernel_symbols():
        pytest.skip("this kernel lists its variables in /proc/kallsyms")
    res = trace("-e", "BEGIN { printf(\"%x\\n\", kaddr(\"avenrun\")); exit(); }")
    assert res.returncode == 1
    assert "CONFIG_KALLSYMS_ALL" in res.stderr.splitlines()[0], res.stderr


del os, struct


TARGET = r"""
#include <stdio.h>
#include <string.h>
struct point { int x; int y; char name[8]; struct point *next; unsigned long big; };
__attribute__((noinline)) int report(struct point *p) { return p->x + p->y; }
int main(void) {
    struct point b = {7, 8, "second", 0, 0}, a = {3, -4, "first", &b, 1UL << 40};
    printf("%zu %zu\n", sizeof(struct point), __builtin_offsetof(struct point, big));
    fflush(stdout);
    return report(&a) == -1;
}
"""


def test_struct_declared_in_the_script_reads_a_user_struct(tmp_path) -> None:
    """A script's own `struct point`, laid out as gcc lays it out (its sizeof and offsetof
    printed by the program itself), read through a uprobe's argument in user memory."""
    import shutil
    import subprocess

    if shutil.which("gcc") is None:
        pytest.skip("gcc builds the uprobe target (.ci/run installs it)")
    (tmp_path / "t.c").write_text(TARGET)
    exe = tmp_path / "t"
    # -O0: at -O1 gcc sees that report() reads only x and y and stores nothing else
    subprocess.run(["gcc", "-O0", "-o", str(exe), str(tmp_path / "t.c")], check=True)
    script = tmp_path / "s.bt"
    script.write_text(
        "struct point { int x; int y; char name[8]; struct point *next; unsigned long big; };\n"
        f"uprobe:{exe}:report {{ $p = (struct point *)arg0;\n"
        "  printf(\"%d %d %s %d %s %d %d\\n\", $p->x, $p->y, $p->name, $p->next->x,\n"
        "         $p->next->name, $p->big >> 40, sizeof(struct point)); }\n")
    res = trace(str(script), "-c", str(exe))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split("\n")
    gcc_size = int(next(line for line in lines if line.count(" ") == 1).split()[0])
    assert "3 -4 first 7 second 1 " + str(gcc_size) in res.stdout, res.stdout


@pytest.mark.parametrize("decl, words", [
    ("struct a { int x : 3; };", "bitfields in struct declarations are not supported"),
    ("struct a { struct nosuch y; };", "unknown type 'struct nosuch' of member 'y'"),
    ("struct a { int x; }; struct a { int y; };", "struct a is declared twice"),
    ("struct a { int x; int };", "expected a member name"),
    ("struct a { int x y; };", "unknown type 'int x' of member 'y'"),
])
def test_struct_declaration_errors(decl: str, words: str) -> None:
    res = trace("-e", decl + " BEGIN { printf(\"%d\\n\", sizeof(struct a)); exit(); }")
    assert res.returncode == 1, res.stdout
    first = res.stderr.splitlines()[0]
    assert first.startswith("stdin:1:") and words in first, res.stderr
    assert "Traceback" not in res.stderr


def test_enum_declarations() -> None:
    """enum { A = 3, B } as in C: one more than the one before unless given; usable in
    arithmetic and as the type of a declared struct's member (an int)."""
    res = trace("-e", "enum { A = 3, B, C = -2, D }; enum Color { RED = B, GREEN } "
                      "struct S { enum Color c; char x; } "
                      "BEGIN { printf(\"%d %d %d %d %d %d %d\\n\", A, B, C, D, GREEN * 10, "
                      "sizeof(struct S), RED + C); print(A); exit(); }")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[:8] == ["3", "4", "-2", "-1", "50", "8", "2", "3"], res.stdout


@pytest.mark.parametrize("prog, error", [
    ("enum { A, A } BEGIN { exit(); }", "enumerator 'A' is declared twice"),
    ("enum { A = x } BEGIN { exit(); }", "expected an integer value"),
    ("enum { A B } BEGIN { exit(); }", "expected ',' or '}'"),
])
def test_enum_declaration_errors_are_positioned(prog: str, error: str) -> None:
    res = trace("-e", prog)
    assert res.returncode != 0 and error in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and "stdin:1:" in res.stderr, res.stderr


def test_pointers_print_as_bpftrace_does() -> None:
    """bpftrace 0.17: a pointer map value (or tuple member) prints as an int64, a pointer
    key in hex; builtins such as pid are 8 bytes."""
    res = trace("-e", "BEGIN { @p = curtask; @k[curtask] = 1; @t = (curtask, 2); "
                      "printf(\"%d %d %d %d\\n\", sizeof(pid), sizeof(cpu), sizeof(uid), "
                      "sizeof(rand)); exit(); }")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "8 8 8 8" in lines, res.stdout
    p = next(ln for ln in lines if ln.startswith("@p: "))
    value = int(p.split()[1])
    assert value < 0 and (value + (1 << 64)) >> 47 == 0x1ffff, p  # a kernel address, signed
    assert f"@k[0x{value + (1 << 64):x}]: 1" in lines, res.stdout
    assert f"@t: ({value}, 2)" in lines, res.stdout


def test_typedef_declarations() -> None:
    """typedef NAME for a struct, an integer or a pointer: in declared struct members, casts
    and sizeof (bpftrace 0.17 has no typedef declarations; this is C's meaning)."""
    task = kernel_btf().sizeof("struct task_struct")
    res = trace("-e", "typedef struct task_struct task_t; typedef unsigned int id_t; "
                      "typedef id_t *idp; struct S { id_t a; task_t *t; idp p; } "
                      "BEGIN { $t = (task_t *)curtask; printf(\"%d %d %d %d %d\\n\", "
                      "$t->pid == tid, sizeof(struct S), sizeof(id_t), sizeof(task_t), "
                      "sizeof(idp)); exit(); }")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[:5] == ["1", "24", "4", str(task), "8"], res.stdout


def test_typedef_errors_are_positioned() -> None:
    res = trace("-e", "typedef float real; BEGIN { $x = (real)1; exit(); }")
    assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
    assert "typedef 'real' stands for 'float', which a cast cannot name" in res.stderr, \
        res.stderr
    res = trace("-e", "typedef unsigned int; BEGIN { exit(); }")
    assert res.returncode != 0 and "stdin:1:" in res.stderr, res.stderr
    assert "typedef needs a name: 'int' is a type word" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
