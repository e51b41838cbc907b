"""Parser tests: every construct round-trips through the unparser; errors carry positions;
hypothesis fuzzing gives positioned errors, never tracebacks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.lang import LangError, ast, parse
from pybpf.lang.unparse import program as unparse

CONSTRUCTS = [
    'BEGIN { printf("hi %d\\n", 1 + 2 * 3); }',
    "begin { @a = 1; } end { clear(@a); }",
    "tracepoint:syscalls:sys_enter_openat { @[comm, pid] = count(); }",
    "t:syscalls:sys_enter_* { @[probe] = count(); }",
    "tracepoint:raw_syscalls:sys_enter /pid == 1 && comm != \"x\"/ { @[args->id] = count(); }",
    "t:syscalls:sys_exit_read /args.ret > 0/ { @bytes = hist(args.ret); }",
    "rawtracepoint:sched_switch { @ = count(); }",
    "profile:hz:99 { @[kstack] = count(); }",
    "profile:ms:10 { @[cpu] = count(); }",
    "interval:s:1 { print(@x); clear(@x); }",
    "interval:ms:100 { exit(); }",
    "software:cpu-clock:1000000 { @ = count(); }",
    "hardware:cpu-cycles:100000 { @ = count(); }",
    "uprobe:/bin/bash:readline { @ = count(); }",
    "uretprobe:/bin/bash:readline { printf(\"%s\\n\", str(retval)); }",
    "kprobe:do_nanosleep { @ = count(); }",
    "BEGIN, END { printf(\"x\\n\"); }",
    "BEGIN { $x = (uint8)257; $y = (int64)-1; $z = (struct task_struct *)curtask; }",
    "BEGIN { if ($x > 1) { $x++; } else if ($x < 0) { $x--; } else { @b = hist($x); } }",
    "BEGIN { unroll(3) { @z++; } }",
    "BEGIN { $i = 0; while ($i < 10) { $i += 1; if ($i == 5) { break; } continue; } }",
    "BEGIN { @t = (1, \"a\", (2, 3)); $a = @t; }",
    "BEGIN { $x = 1 ? 2 : 3; $y = !$x; $z = ~$x; $w = -$x; ++$x; --@c; @d[1]--; }",
    "BEGIN { $x = 1 << 2 >> 1 | 4 & 5 ^ 6 % 7 / 8 - 9; $x <<= 1; $x >>= 1; $x |= 1; }",
    "BEGIN { $x = 1 <= 2 >= 3 == 4 != 5 < 6 > 7 || 0; $x *= 2; $x /= 2; $x %= 2; }",
    "BEGIN { $x = 0x1f + 1_000 + 5ms + 'a'; $x &= 3; $x ^= 3; $x -= 1; }",
    "BEGIN { @s = stats(1); @a = avg(2); @m = min(3); @M = max(4); @l = lhist(5, 0, 10, 1); }",
    "BEGIN { delete(@a[1]); zero(@b); print(@c, 10); time(\"%H:%M\\n\"); exit(); }",
    "BEGIN { printf(\"%s\\n\", ksym(kaddr(\"do_sys_open\"))); system(\"ls\"); cat(\"/etc/hostname\"); }",
    "BEGIN { @x = args->filename; @y = args.x.y[2]; @z = *curtask; @w = &$x; }",
    "BEGIN { printf(\"%d\\n\", $1); }",
    "// comment\nBEGIN /* c */ { @ = 1; } # not a comment start mid-line",
]


def _first_line(src: str) -> str:
    return src.split(" # ")[0]


@pytest.mark.parametrize("src", [_first_line(s) for s in CONSTRUCTS])
def test_round_trip(src: str) -> None:
    text = unparse(parse(src))
    assert unparse(parse(text)) == text


def test_precedence() -> None:
    p = parse("BEGIN { $x = 1 + 2 * 3 == 7 && !0; }")
    s = p.probes[0].body[0]
    assert isinstance(s, ast.Assign)
    assert unparse(p).splitlines()[1].strip() == "$x = (((1 + (2 * 3)) == 7) && (!0));"


def test_probe_specs() -> None:
    p = parse("uprobe:/usr/lib/libc.so.6:malloc, t:syscalls:sys_enter_* /pid > 1/ { }")
    assert [s.text for s in p.probes[0].specs] == ["uprobe:/usr/lib/libc.so.6:malloc",
                                                    "t:syscalls:sys_enter_*"]
    assert p.probes[0].pred is not None


def test_multiline_script() -> None:
    src = "#!/usr/bin/env bpftrace\n#include <linux/sched.h>\nBEGIN\n{\n  @a = 1;\n}\n\nEND { }\n"
    p = parse(src, "s.bt")
    assert len(p.probes) == 2
    assert p.probes[1].loc.line == 8


@pytest.mark.parametrize("src, line, col, words", [
    ("BEGIN { @x = ; }", 1, 14, "unexpected ';'"),
    ("BEGIN { @x = 1 }\nEND { $x = \"abc }", 2, 12, "unterminated string"),
    ("BEGIN { @x = 1 ", 1, 16, "end of input"),
    ("{ }", 1, 1, "expected a probe"),
    ("BEGIN { 1 = 2; }", 1, 11, "assigned"),
    ("BEGIN { $ = 1; }", 1, 9, "'$'"),
    ("BEGIN { @x = 12abc; }", 1, 14, "invalid number"),
    ("BEGIN /pid/ @x = 1; }", 1, 13, "expected '{'"),
])
def test_error_positions(src: str, line: int, col: int, words: str) -> None:
    with pytest.raises(LangError) as ei:
        parse(src)
    e = ei.value
    assert (e.loc.line, e.loc.col) == (line, col), e.render()
    assert words in e.message
    text = e.render().splitlines()
    assert text[0].startswith(f"stdin:{line}:{col}: error: ")
    assert text[2].index("^") == col - 1


ALPHABET = st.sampled_from(list("{}()[]/@$;,:.*+-!<>=&|?\"'\n ") + [
    "BEGIN", "t:syscalls:sys_enter_read", "pid", "@x", "$y", "count()", "printf(\"%d\", 1)",
    "if", "else", "unroll", "while", "1", "0x", "\"s\"", "->", "args", "//", "/*", "*/",
    "(uint8)", "struct", "++", "--", "hist(", "3ms", "'a'", "\\",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=30).map("".join))
def test_fuzz_parser_positioned_errors(src: str) -> None:
    try:
        p = parse(src)
    except LangError as e:
        assert e.loc.line >= 1 and e.loc.col >= 1
        return
    text = unparse(p)
    assert unparse(parse(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_parser_any_text(src: str) -> None:
    try:
        parse("BEGIN { " + src + " }")
    except LangError as e:
        assert e.loc.line >= 1
