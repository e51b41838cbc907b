"""Script-level features of bpftrace's shipped tools: the preprocessor (#include tables,
#define, #ifdef BPFTRACE_HAVE_BTF) and kernel BTF enumerators as constants."""

import pytest

from pybpf.lang.errors import LangError
from pybpf.lang.preprocess import preprocess


def test_include_gives_uapi_constants_and_keeps_columns():
    out = preprocess("#include <sys/socket.h>\nBEGIN { $a = AF_INET6; $b = AF_INET; }\n")
    lines = out.source.split("\n")
    assert lines[0] == ""
    assert lines[1] == "BEGIN { $a = 10      ; $b = 2      ; }"
    assert out.includes == ["sys/socket.h"]


def test_unknown_header_is_an_error_not_skipped():
    with pytest.raises(LangError) as e:
        preprocess("#include <linux/nosuch.h>\nBEGIN {}\n", "x.bt")
    assert "linux/nosuch.h" in e.value.message and e.value.loc.line == 1


def test_ifndef_btf_block_dropped_and_else_kept(monkeypatch):
    monkeypatch.setattr("pybpf.lang.preprocess.have_btf", lambda: True)
    src = ("#ifndef BPFTRACE_HAVE_BTF\n#include <linux/nosuch.h>\nstruct x { int a; };\n"
           "#else\n#define N 3\n#endif\nBEGIN { @ = N; }\n")
    out = preprocess(src)
    assert out.source.split("\n")[6] == "BEGIN { @ = 3; }"
    assert "struct" not in out.source


def test_define_not_replaced_in_strings_fields_maps_or_probes():
    src = '#define comm 1\n#define X 2 + 3\nk:comm { @comm = $t->comm + X; printf("comm X"); }'
    line = preprocess(src).source.split("\n")[2]
    assert line == 'k:comm { @comm = $t->comm + (2 + 3); printf("comm X"); }'


@pytest.mark.parametrize("src, msg", [
    ("#define F(x) x\n", "macros with arguments"),
    ("#ifdef A\n", "without #endif"),
    ("#endif\n", "#endif without"),
    ("#pragma once\n", "unsupported preprocessor directive"),
])
def test_bad_directives(src, msg):
    with pytest.raises(LangError) as e:
        preprocess(src + "BEGIN {}\n")
    assert msg in e.value.message


def test_btf_enumerator_is_a_constant():
    from pybpf.lang.declarations import kernel_enumerator

    if kernel_enumerator("TCP_ESTABLISHED") is None:
        pytest.skip("no kernel BTF with enum TCP_ESTABLISHED")
    assert kernel_enumerator("TCP_ESTABLISHED") == 1
    assert kernel_enumerator("NO_SUCH_ENUMERATOR_X") is None


def test_hash_line_inside_block_comment_is_text():
    src = "/*\n # need changes\n */\n#define N 1\nBEGIN { @ = N; }\n"
    assert preprocess(src).source.split("\n")[4] == "BEGIN { @ = 1; }"
