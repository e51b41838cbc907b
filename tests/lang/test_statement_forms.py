"""Statement forms of bpftrace's language (issue 18 items 3, 4): a ternary whose arms are
statements, and unroll's limits in bpftrace's own words."""

from __future__ import annotations

import re

import pytest

from tests.lang.test_cli_trace import trace
from tests.util import requires_root

pytestmark = requires_root


def test_ternary_whose_arms_are_printf() -> None:
    res = trace("-e", 'BEGIN { $i = 0; unroll(4) { $i % 2 == 0 ? printf("even %d\\n", $i) : '
                      'printf("odd %d\\n", $i); $i++; } exit(); }')
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:4] == ["even 0", "odd 1", "even 2", "odd 3"], res.stdout


@pytest.mark.parametrize("n, text", [(101, "unroll maximum value is 100"),
                                     (0, "unroll minimum value is 1")])
def test_unroll_limits_in_bpftraces_words(n: int, text: str) -> None:
    res = trace("-e", f"BEGIN {{ unroll({n}) {{ @c = count(); }} exit(); }}")
    assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
    assert f"stdin:1:9: error: {text}" in res.stderr, res.stderr


# Cases of bpftrace 0.17's own runtime tests (tests/runtime/pointers, call, builtin, other)
# that pybpf failed, with the output bpftrace gives.
@pytest.mark.parametrize("prog, want", [
    ("BEGIN { @=(int16*) 32; @+=1; exit(); }", "@: 34"),
    ("BEGIN { @=(int32*) 32; @++; exit(); }", "@: 36"),
    ("BEGIN { @=(int64*) 32; @--; exit(); }", "@: 24"),
    ("BEGIN { @dec = 4; @=(int32*) 32; @-=@dec; exit(); }", "@: 16"),
    ("BEGIN { @=(int8*) 32; @+=6; exit(); }", "@: 38"),
    ('BEGIN { @[buf("ok_key", 8), 1] = count(); exit(); }', "@[ok_key\\x00\\x00, 1]: 1"),
    ('i:ms:100 { printf("IP: %s\\n", ntop(2, pton("127.0.0.1"))); exit(); }', "IP: 127.0.0.1"),
    ('i:ms:100 { printf("IP: %s\\n", ntop(10, pton("::1"))); exit(); }', "IP: ::1"),
    ("struct A {int32_t a; int32_t b; char c[28] }; BEGIN { $a=(struct A*) 1024; "
     'printf("%lu - 5 x %lu = %lu\\n", $a, sizeof(struct A), $a-5); exit(); }',
     "1024 - 5 x 36 = 844"),
    ('struct task_struct {int x;} i:ms:1 { printf("SUCCESS %d\\n", curtask->x); exit(); }',
     "SUCCESS "),
    ('BEGIN { @start = nsecs; } i:s:1 { printf("Elapsed time: %llus\\n", '
     "(nsecs - @start)/1000000000); clear(@start); exit();}", "Elapsed time: 1s"),
])
def test_bpftrace_runtime_cases(prog: str, want: str) -> None:
    res = trace("-e", prog)
    assert res.returncode == 0, res.stderr
    assert want in res.stdout.splitlines() or (want.endswith(" ") and want in res.stdout), \
        res.stdout


def test_a_cleared_keyless_map_prints_as_in_bpftrace() -> None:
    """bpftrace 0.17: a cleared map of plain values prints nothing; a cleared count() map,
    like one that never fired, prints 0."""
    res = trace("-e", "BEGIN { @start = nsecs; @n = count(); @c = count(); clear(@start); "
                      "clear(@c); exit(); } "
                      "tracepoint:syscalls:sys_enter_getppid { @never = count(); }")
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ln]
    assert lines == ["@c: 0", "@n: 1", "@never: 0"], res.stdout


def test_uprobe_at_an_address_and_a_quoted_symbol() -> None:
    """bpftrace's uprobe:PATH:ADDRESS (one no function holds is its own error, not a
    traceback) and uprobe:PATH:"symbol"+offset."""
    from pybpf.symbols import elf_symbols, resolve_binary

    res = trace("-e", 'uprobe:/bin/bash:10 { printf("arg0: %d\\n", arg0); exit(); }')
    bash = resolve_binary("/bin/bash")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "stdin:1:1: error: Could not resolve address: /bin/bash:0xa" in res.stderr, \
        res.stderr
    addr = elf_symbols(bash).symbol("echo_builtin").addr
    for spec in ('"echo_builtin"+0', f"{addr:#x}"):
        res = trace("-e", f"uprobe:/bin/bash:{spec} {{ @calls = count(); }}",
                    "-c", "/bin/bash -c 'echo hi; echo there'")
        assert res.returncode == 0, res.stderr
        assert "@calls: 2" in res.stdout.splitlines(), (spec, res.stdout)


def test_cgroup_path_of_a_process_in_a_cgroup() -> None:
    """cgroup_path(cgroup) of a child placed in a new cgroup v2 directory names it as
    bpftrace does ("unified:/NAME" among the hierarchies that hold the id); the root cgroup
    is "/" in every hierarchy."""
    import os
    import uuid

    from pybpf.lang.printer import cgroup_mounts, cgroup_paths

    v2 = [root for name, root in cgroup_mounts() if name == "unified"]
    if not v2:
        pytest.skip("no cgroup v2 hierarchy is mounted")
    path = os.path.join(v2[0], f"pybpf-{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    try:
        child = (f"sh -c 'echo $$ > {path}/cgroup.procs; exec python3 -c "
                 "\"import os; os.getppid()\"'")
        res = trace("-e", 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
                          '{ printf("at %s\\n", cgroup_path(cgroup)); }', "-c", child)
        assert res.returncode == 0, res.stderr
        name = os.path.basename(path)
        lines = [ln for ln in res.stdout.splitlines() if ln.startswith("at ")]
        # the shell may call getppid before it moves itself: the last call is python's
        assert lines and f"unified:/{name}" in lines[-1].split()[1].split(","), res.stdout
    finally:
        os.rmdir(path)
    assert cgroup_paths(1).split(",")[0] == "unified:/"


def test_buf_conversions_as_bpftrace() -> None:
    """%r prints printable bytes as they are, %rx every byte as \\xNN, %rh bytes in hex
    apart (bpftrace 0.17's runtime cases buf_no_ascii, buf_no_ascii_no_escaping)."""
    res = trace("-e", 'BEGIN { printf("%r|%rx|%rh\\n", buf("Hi\\n", 3), buf("Hello\\0", 6), '
                      'buf("ab\\0", 3)); exit(); }')
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == \
        "Hi\\x0a|\\x48\\x65\\x6c\\x6c\\x6f\\x00|61 62 00", res.stdout
    res = trace("-e", 'BEGIN { printf("%rx\\n", 42); exit(); }')
    assert res.returncode == 1 and "%r specifier expects a value of type buffer" in res.stderr


def test_cat_limit_and_missing_file(tmp_path, monkeypatch) -> None:
    """cat() prints at most BPFTRACE_CAT_BYTES_MAX bytes; a missing file is bpftrace's
    ERROR line, and the program goes on."""
    f = tmp_path / "data"
    f.write_text("0123456789")
    monkeypatch.setenv("BPFTRACE_CAT_BYTES_MAX", "4")
    res = trace("-e", f'BEGIN {{ cat("{f}"); printf("\\n"); cat("{tmp_path}/nope"); '
                      'printf("after\\n"); exit(); }')
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[:2] == ["0123", "after"], res.stdout
    assert f"ERROR: failed to open file '{tmp_path}/nope': No such file or directory" in \
        res.stderr, res.stderr


def test_buf_equality() -> None:
    """bufs compare by length and bytes (bpftrace 0.17's runtime case buf_equality)."""
    res = trace("-e", 'BEGIN { $a = buf("hi", 2); $b = buf("bye", 3); $c = buf("hi\\0", 2); '
                      'printf("%d %d %d %d\\n", $a == $a, $a != $b, $a == $c, $b == $c); '
                      'exit(); }')
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "1 1 1 0", res.stdout


def test_ctx_builtin_cast_to_a_declared_struct() -> None:
    """`ctx` is the probe's context pointer: a tracepoint's record starts with its common
    fields, then __syscall_nr (bpftrace 0.17's runtime case ctx)."""
    res = trace("-e", "struct rec { long common; int nr; } tracepoint:syscalls:sys_enter_getppid "
                      "/pid == cpid/ { printf(\"%d %d\\n\", ((struct rec *)ctx)->nr, "
                      "args->__syscall_nr); }", "-c", "/usr/bin/python3 -c 'import os; os.getppid()'")
    assert res.returncode == 0, res.stderr
    first = res.stdout.split()[:2]
    assert first[0] == first[1] and first[0].isdigit(), res.stdout


def test_anonymous_struct_member_in_a_declaration() -> None:
    """`struct { int x; int y; } bar;` inside a declaration (bpftrace 0.17's regression case
    codegen_struct_save_nested): laid out as C does, its fields reachable by name."""
    res = trace("-e", "struct Foo { int m; struct { char c; long x; } bar; union { int i; "
                      "char b[6]; } u; int n; } BEGIN { @x = ((struct Foo *)0)->bar.x; "
                      "printf(\"%d %d\\n\", sizeof(struct Foo), offsetof(struct Foo, n)); "
                      "exit(); }")
    if "offsetof" in res.stderr:  # not in bpftrace 0.17 either: sizeof alone
        res = trace("-e", "struct Foo { int m; struct { char c; long x; } bar; union { int i; "
                          "char b[6]; } u; int n; } BEGIN { @x = ((struct Foo *)0)->bar.x; "
                          "printf(\"%d\\n\", sizeof(struct Foo)); exit(); }")
    assert res.returncode == 0, res.stderr
    # m at 0, bar (16 bytes, 8-aligned) at 8, u (8 bytes, 4-aligned) at 24, n at 32: 40
    assert res.stdout.split()[0] == "40", res.stdout
    assert "@x: 0" in res.stdout
    res = trace("-e", "struct Foo { int m; struct { int x; }; } BEGIN { exit(); }")
    assert res.returncode == 1 and "needs a name" in res.stderr, res.stderr
    assert "stdin:1:" in res.stderr and "Traceback" not in res.stderr


def test_a_skipped_probe_still_types_its_maps() -> None:
    """A probe whose function is missing is skipped, but the maps it assigns keep the types
    it gives them (biosnoop.bt's `@iocomm[arg0] != ""` when its start probes are missing)."""
    res = trace("-e", 'uprobe:/bin/bash:nosuchfn_pybpf { @m[1] = comm; } '
                      'uprobe:/bin/bash:readline /@m[1] != ""/ { @n = count(); } '
                      'BEGIN { exit(); }')
    assert res.returncode == 0, res.stderr
    assert "nosuchfn_pybpf" in res.stderr and "skipping this probe" in res.stderr, res.stderr
    assert "error" not in res.stderr, res.stderr


def test_buf_of_a_length_known_at_run_time() -> None:
    """buf(address, length) with the length from the event (undump.bt's
    buf($skb->data, $skb->len)): the bytes read, at most 64."""
    long_text = "x" * 70
    res = trace("-e", 'tracepoint:syscalls:sys_enter_write /pid == cpid/ '
                      '{ printf("<%r>\\n", buf(args->buf, args->count)); }',
                "-c", f"/usr/bin/printf ab{long_text}")
    assert res.returncode == 0, res.stderr
    # (the child's own output, with no newline, comes first on the same line)
    assert re.findall(r"<[^>]*>", res.stdout) == [f"<ab{long_text[:62]}>"], res.stdout
    res = trace("-e", 'tracepoint:syscalls:sys_enter_write /pid == cpid/ '
                      '{ printf("<%r>\\n", buf(args->buf, args->count)); }',
                "-c", "/usr/bin/printf abc")
    assert re.findall(r"<[^>]*>", res.stdout) == ["<abc>"], res.stdout


def test_missing_attach_points_of_a_list_are_skipped() -> None:
    """As bpftrace: missing attach points of a probe's list are skipped with warnings even
    when none is left (xfsdist.bt without xfs); a probe's only attach point is an error."""
    res = trace("-e", 'tracepoint:nosuch:a, tracepoint:nosuch:b { } BEGIN { printf("hi\\n"); '
                      'exit(); }')
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("hi\n"), res.stdout
    assert res.stderr.count("WARNING: unknown tracepoint nosuch:") == 2, res.stderr
    res = trace("-e", 'tracepoint:nosuch:a { } BEGIN { printf("hi\\n"); exit(); }')
    assert res.returncode == 1 and "stdin:1:1: error: unknown tracepoint" in res.stderr


def test_a_skipped_probe_types_a_map_read_before_it_in_the_script() -> None:
    """biostacks.bt on 6.1: the skipped probe assigns `@reqstack[arg0] = kstack`; a later
    probe keys a map by it. The stand-in is lowered first, so the key is a stack."""
    res = trace("-e", "uprobe:/bin/bash:nosuchfn_pybpf { @s[1] = ustack; @t[1] = 5; } "
                      "uprobe:/bin/bash:readline /@t[1]/ { @u[@s[1]] = count(); } "
                      "BEGIN { exit(); }")
    assert res.returncode == 0, res.stderr
    assert "error" not in res.stderr, res.stderr
