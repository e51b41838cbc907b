"""pybpf trace on kernel functions (kprobe, kretprobe, kfunc/fentry, kretfunc/fexit): on a
kernel without them, one positioned error line with pybpf.features' reason and exit 1; every
probe form parsed and lowered (with the availability check bypassed, so that the host's
kernel BTF and traceable-function list type and expand them); -l. Running them is in
tests/vm/test_trace_vm.py."""

from __future__ import annotations

import pytest

from pybpf import features
from pybpf.lang import kfuncs
from pybpf.lang import probes as pr
from pybpf.lang.compile import Compiler
from pybpf.lang.errors import LangError
from pybpf.lang.types import LT
from tests.lang.test_cli_trace import trace
from tests.util import requires_root

pytestmark = requires_root
LOC = pr.Loc("t", 1, 1, "")
HOOK = {"kprobe": "kprobe", "kretprobe": "kretprobe", "kfunc": "fentry", "kretfunc": "fexit"}


def missing(kind: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(bool(features.has(HOOK[kind])),
                              reason=f"this kernel has {HOOK[kind]}")


# -- kernels without them -------------------------------------------------------------------
@pytest.mark.parametrize("prog, kind, head, col", [
    ("kprobe:do_nanosleep { @ = count(); }", "kprobe", "kprobes are not available", 1),
    ("k:vfs_read { @ = count(); }", "kprobe", "kprobes are not available", 1),
    ("kprobe:vfs_*  { @ = count(); }", "kprobe", "kprobes are not available", 1),
    ("kretprobe:vfs_read /retval < 0/ { @ = count(); }", "kretprobe",
     "kretprobes are not available", 1),
    ("BEGIN { } kr:vfs_read { @ = count(); }", "kretprobe", "kretprobes are not available", 11),
    ("kfunc:vfs_read { @ = hist(args->count); }", "kfunc", "kfunc/fentry probes are not available", 1),
    ("BEGIN { }\n  fentry:vfs_read { @ = count(); }", "kfunc", "kfunc/fentry probes are not available", 3),
    ("f:vfs_read { @ = count(); }", "kfunc", "kfunc/fentry probes are not available", 1),
    ("kretfunc:vfs_read { @ = retval; }", "kretfunc", "kretfunc/fexit probes are not available", 1),
    ("BEGIN { } fexit:vfs_read { @ = count(); }", "kretfunc", "kretfunc/fexit probes are not available", 11),
    ("fr:vfs_read { @ = count(); }", "kretfunc", "kretfunc/fexit probes are not available", 1),
])
def test_not_available_here(prog: str, kind: str, head: str, col: int) -> None:
    if features.has(HOOK[kind]):
        pytest.skip(f"this kernel has {HOOK[kind]}")
    res = trace("-e", prog)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    line = prog.count("\n", 0, prog.find(":")) + 1
    assert lines[0].startswith(f"stdin:{line}:{col}: error: {head} on this kernel ("), lines
    reason = features.why_missing(HOOK[kind])
    assert reason is not None
    detail = reason.split("on this kernel (", 1)[1].split(")", 1)[0]
    assert detail in lines[0]  # why_missing's reason, on the one error line
    assert lines[2].index("^") == col - 1
    assert lines[3].startswith("Use ")  # what to use instead, for pybpf trace
    assert len(lines) == 4


@missing("kprobe")
@pytest.mark.parametrize("pattern", ["kprobe:*", "kprobe:tcp_*", "kretprobe:vfs_read"])
def test_list_says_kprobes_are_missing(pattern: str) -> None:
    res = trace("-l", pattern)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("pybpf trace: kprobes are not available on this kernel (") or \
        res.stderr.startswith("pybpf trace: kretprobes are not available on this kernel (")
    assert res.stdout == ""


@missing("kfunc")
def test_list_says_kfuncs_are_missing() -> None:
    res = trace("-l", "kfunc:tcp_*")
    assert res.returncode == 1
    assert res.stderr.startswith("pybpf trace: kfunc/fentry probes are not available on this "
                                 "kernel (")


def test_list_all_still_works() -> None:
    res = trace("-l", "tracepoint:sched:sched_switch")
    assert res.returncode == 0
    assert res.stdout.split() == ["tracepoint:sched:sched_switch"]


# -- every probe form, lowered against this kernel's BTF and function list -------------------
@pytest.fixture
def available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kfuncs, "_missing", lambda kind: None)
    if not kfuncs.traceable() or not kfuncs.btf_functions():
        pytest.skip("no traceable-function list or kernel BTF here")


def compiled(src: str) -> Compiler:
    comp = Compiler(src)
    comp.compile()
    comp.close()
    return comp


@pytest.mark.parametrize("spec, full", [
    ("kprobe:vfs_read", "kprobe:vfs_read"),
    ("k:vfs_read", "kprobe:vfs_read"),
    ("kprobe:vfs_read+0x10", "kprobe:vfs_read+16"),
    ("kretprobe:vfs_read", "kretprobe:vfs_read"),
    ("kr:vfs_read", "kretprobe:vfs_read"),
    ("kfunc:vfs_read", "kfunc:vmlinux:vfs_read"),
    ("kfunc:vmlinux:vfs_read", "kfunc:vmlinux:vfs_read"),
    ("fentry:vfs_read", "kfunc:vmlinux:vfs_read"),
    ("f:vfs_read", "kfunc:vmlinux:vfs_read"),
    ("kretfunc:vfs_read", "kretfunc:vmlinux:vfs_read"),
    ("fexit:vfs_read", "kretfunc:vmlinux:vfs_read"),
    ("fr:vmlinux:vfs_read", "kretfunc:vmlinux:vfs_read"),
])
def test_probe_forms(available: None, spec: str, full: str) -> None:
    probes = pr.expand(spec, LOC)
    assert [p.full_name for p in probes] == [full]
    assert probes[0].prog_type == ("tracing" if "func" in full else "kprobe")
    comp = compiled(f"{spec} {{ @[probe, func] = count(); }}")
    assert [cp.probe.full_name for cp in comp.compiled] == [full]
    assert comp.names == [full, "vfs_read"]


@pytest.mark.parametrize("kind", ["kprobe", "kretprobe", "kfunc", "kretfunc"])
def test_wildcards(available: None, kind: str) -> None:
    probes = pr.expand(f"{kind}:vfs_rea*", LOC)
    names = [p.name for p in probes]
    assert "vfs_read" in names and all(n.startswith("vfs_rea") for n in names)
    assert all(p.wild for p in probes)
    assert [p.full_name for p in probes] == pr.list_probes(f"{kind}:vfs_rea*")  # -l: same
    comp = compiled(f"{kind}:vfs_rea* {{ @[func] = count(); }}")
    assert len(comp.compiled) == len(probes)


def test_several_specs_and_predicates(available: None) -> None:
    comp = compiled("kprobe:vfs_read, kretprobe:vfs_write /pid > 1/ { @[probe] = count(); }\n"
                    "kretfunc:vfs_read /retval < 0/ { @e = count(); }")
    assert [cp.probe.full_name for cp in comp.compiled] == [
        "kprobe:vfs_read", "kretprobe:vfs_write", "kretfunc:vmlinux:vfs_read"]


def test_typed_from_btf(available: None) -> None:
    comp = compiled("kfunc:vfs_read { @c = args->count; @c2 = args.count; @f = args->file; }\n"
                    "kretfunc:do_sys_openat2 { @r = retval; @d = args->dfd; }\n"
                    "kretprobe:do_sys_openat2 { @kr = retval; }\n"
                    "kprobe:do_sys_openat2 { @a = arg0; @s = str(arg1); @a7 = arg7; }")
    value = {n: i.value for n, i in comp.syms.maps.items()}
    assert value["c"] == value["c2"] == LT("int", 64, False)  # size_t
    assert value["f"] == LT("int", 64, False)  # a pointer
    assert value["r"] == value["d"] == value["kr"] == LT("int", 64, True)  # int, widened
    assert value["a"] == value["a7"] == LT("int", 64, False)  # raw registers, the stack
    assert value["s"].kind == "str"


def test_too_many_functions(available: None) -> None:
    with pytest.raises(LangError) as e:
        pr.expand("kprobe:*", LOC)
    assert "takes at most 500" in e.value.message
    assert "narrow the pattern" in e.value.message


@pytest.mark.parametrize("prog, words, col", [
    ("kfunc:vfs_read { @ = arg0; }", "arg0 is not available in kfunc probes", 22),
    ("kfunc:vfs_read { @ = args->nosuch; }", "vfs_read() has no argument 'nosuch'", 26),
    ("kfunc:vfs_read { print(args); }", "args is a record", 24),
    ("kfunc:vfs_read { @ = retval; }", "retval is not available in kfunc probes", 22),
    ("kretfunc:fput { @ = retval; }", "fput() returns nothing (void)", 21),
    ("kprobe:vfs_read { @ = retval; }", "only available in kretprobe, kretfunc and", 23),
    ("kprobe:vfs_read { @ = args->count; }", "args is not available in kprobe probes", 27),
    ("kretprobe:vfs_read { @ = arg0; }", "arg0 is not available in kretprobe probes", 26),
    ("kretprobe:vfs_read+4 { }", "takes no offset", 1),
    ("kfunc:nosuch_function_x { }", "unknown kernel function 'nosuch_function_x'", 1),
    ("kprobe:nosuch_function_x { }", "unknown kernel function 'nosuch_function_x'", 1),
    ("BEGIN { } kprobe:nosuch_function_* { }", "no kernel function matches", 11),
    ("kfunc:vfs_read* { } kprobe:vfs_read+zz { }", "invalid kprobe offset", 21),
])
def test_errors(available: None, prog: str, words: str, col: int) -> None:
    with pytest.raises(LangError) as e:
        compiled(prog)
    first = e.value.render().splitlines()[0]
    assert first.startswith(f"stdin:1:{col}: error: "), first
    assert words in first
