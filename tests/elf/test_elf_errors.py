"""Bad objects give one clear error naming the file (and the section): not ELF, not BPF,
no BTF, an unknown section, a relocation against a type the kernel lacks, a verifier
rejection (pointing at the C source line), unresolved externs."""

from __future__ import annotations

import pytest

from pybpf.elf import ElfError, Object
from pybpf.sys import BPFError, VerifierError
from tests.elf.build import build, build_source
from tests.util import requires_root


def test_not_elf(tmp_path):
    bad = tmp_path / "notes.bpf.o"
    bad.write_text("hello")
    with pytest.raises(ElfError, match=r"notes.bpf.o: not an ELF file"):
        Object.open(bad)


def test_missing_file(tmp_path):
    with pytest.raises(ElfError, match=r"nothing.bpf.o: cannot read: No such file"):
        Object.open(tmp_path / "nothing.bpf.o")


def test_not_bpf():
    import sys

    with pytest.raises(ElfError, match=r"not a BPF object: machine EM_X86_64"):
        Object.open(sys.executable if sys.executable.endswith("python3") else "/bin/true")


def test_truncated_elf(objects, tmp_path):
    data = open(objects["counter"], "rb").read()
    cut = tmp_path / "cut.bpf.o"
    cut.write_bytes(data[:300])
    with pytest.raises(ElfError, match=r"cut.bpf.o"):
        Object.open(cut)


def test_btf_maps_without_btf():
    path = build("counter", ("-g0",))
    with pytest.raises(ElfError, match=r"counter_g0.bpf.o: section '.maps': BTF-defined maps "
                                       r"need the object's .BTF section"):
        Object.open(path)


def test_unknown_section():
    path = build_source("unknown_sec", '#include "bpf_helpers.h"\n'
                        'SEC("bogus/thing") int f(void *ctx) { return 0; }\n')
    with pytest.raises(ElfError, match=r"unknown_sec.bpf.o: section 'bogus/thing': unknown "
                                       r"program section.*tracepoint"):
        Object.open(path)


MISSING_TYPE = """
#include "bpf_helpers.h"
struct pybpf_no_such_kernel_struct { int a; int b; } __core;
__u32 out;
SEC("tp/syscalls/sys_enter_getpid")
int reader(void *ctx)
{
	struct pybpf_no_such_kernel_struct *s = bpf_get_current_task();
	int b = 0;
	BPF_CORE_READ_INTO(&b, s, b);
	out = b;
	return 0;
}
"""


@requires_root
def test_relocation_against_a_missing_kernel_type(no_leaks):
    path = build_source("missing_type", MISSING_TYPE)
    obj = Object.open(path)
    with pytest.raises(ElfError) as e:
        obj.load()
    msg = str(e.value)
    assert "missing_type.bpf.o: section 'tp/syscalls/sys_enter_getpid'" in msg
    assert "struct pybpf_no_such_kernel_struct: b" in msg
    assert "the kernel has no struct pybpf_no_such_kernel_struct" in msg
    assert "missing_type.bpf.c:" in msg  # the C line of the read


BAD_ACCESS = """
#include "bpf_helpers.h"
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");
SEC("tp/syscalls/sys_enter_getpid")
int unchecked(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &key);
	return *v; /* no NULL check: the verifier refuses */
}
"""


@requires_root
def test_verifier_error_names_section_and_source_line(no_leaks):
    path = build_source("bad_access", BAD_ACCESS)
    with Object.open(path) as obj, pytest.raises(VerifierError) as e:
        obj.load()
    msg = str(e.value)
    assert "bad_access.bpf.o: section 'tp/syscalls/sys_enter_getpid'" in msg
    assert "bad_access.bpf.c:14" in msg and "return *v" in msg
    assert "invalid mem access" in e.value.log


KSYM = """
#include "bpf_helpers.h"
extern int some_kernel_variable __attribute__((section(".ksyms")));
SEC("tp/syscalls/sys_enter_getpid")
int uses_ksym(void *ctx) { return some_kernel_variable; }
"""


@requires_root
def test_unresolved_extern(no_leaks):
    path = build_source("ksym", KSYM)
    with Object.open(path) as obj, pytest.raises(ElfError) as e:
        obj.load()
    assert "ksym.bpf.o: section 'tp/syscalls/sys_enter_getpid'" in str(e.value)
    assert "extern 'some_kernel_variable'" in str(e.value)


NOT_WEAK = """
#include "bpf_helpers.h"
extern int CONFIG_PYBPF_SURELY_NOT_SET __kconfig;
__u32 out;
SEC("tp/syscalls/sys_enter_getpid")
int reads_config(void *ctx) { out = CONFIG_PYBPF_SURELY_NOT_SET; return 0; }
"""


@requires_root
def test_missing_strong_kconfig(no_leaks):
    path = build_source("strong_kconfig", NOT_WEAK)
    with Object.open(path) as obj, pytest.raises(ElfError) as e:
        obj.load()
    assert "strong_kconfig.bpf.o: section '.kconfig': CONFIG_PYBPF_SURELY_NOT_SET" in str(e.value)
    assert "__weak" in str(e.value)


def test_errors_are_bpf_errors():
    assert issubclass(ElfError, BPFError)


def test_unknown_global_variable(objects):
    obj = Object.open(objects["globals"])
    with pytest.raises(KeyError, match="no global variable 'nope'.*multiplier"):
        obj.set("nope", 1)
    with pytest.raises(ValueError, match="longer than 8 bytes"):
        obj.rodata.cfg = {"tag": "much too long"}
    with pytest.raises(ValueError, match="no member 'bogus'"):
        obj.rodata.cfg = {"bogus": 1}


@requires_root
def test_load_twice(objects, no_leaks):
    with Object.open(objects["counter"]) as obj:
        obj.load()
        with pytest.raises(ElfError, match="already loaded"):
            obj.load()


def test_damaged_objects_give_elf_errors(objects):
    """Random byte damage never escapes as anything but an ElfError (or opens fine)."""
    import random

    from pybpf.elf.loader import _link, _Target

    data = open(objects["globals"], "rb").read()
    rng = random.Random(7)
    for _ in range(300):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        try:
            obj = Object.open("damaged.bpf.o", data=bytes(b))
            for p in obj.programs.values():
                _link(obj, p, _Target(obj))
        except ElfError as e:
            assert str(e).startswith("damaged.bpf.o")
