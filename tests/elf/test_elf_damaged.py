"""Damaged objects are refused, never loaded with another meaning: relocations are checked as
libbpf checks them (bpf_object__collect_prog_relos, bpf_program__record_reloc), and hostile
variants of a real object (truncated, bit-flipped) give only the loader's errors.

The damage is done to objects the tests build (tests/elf/progs); tests/elf/elfpatch.py finds
the bytes to change. In counter.bpf.o, program section tracepoint/syscalls/sys_enter_getpid
has a call to bump() in .text at offset 0x18 and an ld_imm64 of `total_calls` (.bss) at 0x28.
"""

from __future__ import annotations

import os
import random
import struct

import pytest

from pybpf.elf import ElfError, Object
from pybpf.elf.loader import _link, _Target
from pybpf.sys import NotSupportedError, VerifierError
from tests.elf import elfpatch
from tests.elf.build import build_source
from tests.util import requires_root

PROG = "tracepoint/syscalls/sys_enter_getpid"
REL = ".rel" + PROG
CALL_AT, DATA_AT = 0x18, 0x28
GLOBALS_PROG = "tracepoint/syscalls/sys_enter_getpgid"
SHN_ABS, SHN_COMMON = 0xFFF1, 0xFFF2
R_BPF_64_64, R_BPF_64_ABS64, R_BPF_64_32 = 1, 2, 10


def _damaged(path: str) -> bytearray:
    with open(path, "rb") as f:
        return bytearray(f.read())


def _open(data: bytearray, name: str = "damaged.bpf.o") -> Object:
    return Object.open(name, data=bytes(data))


def _link_all(obj: Object) -> None:
    for p in obj.programs.values():
        _link(obj, p, _Target(obj))


# -- (A) relocations -----------------------------------------------------------------------
@pytest.mark.parametrize("shndx,what", [
    (SHN_ABS, r"the symbol is absolute \(SHN_ABS\): no map, variable or function$"),
    (SHN_COMMON, r"the symbol is a common symbol \(SHN_COMMON\): build with -fno-common$"),
    (0xFF10, r"the symbol has the special section index 0xff10$"),
])
def test_relocation_against_a_special_symbol_is_refused(objects, shndx, what):
    """The reader's -1 for these was MapSpec's default section index, which the .kconfig
    map has: `cfg` in .rodata became a reference to the .kconfig map."""
    data = _damaged(objects["globals"])
    elfpatch.set_symbol(data, "cfg", shndx=shndx)
    with pytest.raises(ElfError, match=rf"^damaged.bpf.o: section '{GLOBALS_PROG}': "
                                       rf"relocation at offset 0x20 against 'cfg': {what}"):
        _open(data)


@pytest.mark.parametrize("at,rtype,what", [
    (CALL_AT, 7, "unknown relocation type 7"),
    (DATA_AT, 7, "unknown relocation type 7"),
    (CALL_AT, R_BPF_64_ABS64, "type R_BPF_64_ABS64 is for data sections, not instructions"),
    (CALL_AT, R_BPF_64_64, r"R_BPF_64_64 on a call instruction \(calls take R_BPF_64_32\)"),
    (DATA_AT, R_BPF_64_32, r"R_BPF_64_32 on an ld_imm64 instruction \(they take R_BPF_64_64\)"),
])
def test_wrong_relocation_type_is_refused(objects, at, rtype, what):
    data = _damaged(objects["counter"])
    elfpatch.set_relocation(data, REL, at, type=rtype)
    with pytest.raises(ElfError, match=rf"^damaged.bpf.o: section '{PROG}': relocation at "
                                       rf"offset {at:#x} against '[.\w]+': {what}$"):
        _open(data)


@pytest.mark.parametrize("at,new,what", [
    (DATA_AT, 0x2C, "the offset is not a multiple of the 8-byte instruction size"),
    (CALL_AT, 0x1C, "the offset is not a multiple of the 8-byte instruction size"),
    (DATA_AT, 0x1028, r"the offset is past the end of the section \(80 bytes\)"),
    # the call relocation moved onto `r0 >>= 32`: it was dropped, and the call at 0x18
    # became a call of itself
    (CALL_AT, 0x8, r"instruction 1 \(code 0x77\) is neither an ld_imm64 nor a call"),
    # ... onto the helper call at 0: it became a call into .text
    (CALL_AT, 0x0, r"the call at instruction 0 is not a bpf-to-bpf call \(src_reg 0"),
    (DATA_AT, CALL_AT, "a second relocation of the same instruction"),
])
def test_misplaced_relocation_is_refused(objects, at, new, what):
    data = _damaged(objects["counter"])
    elfpatch.set_relocation(data, REL, at, new_offset=new)
    with pytest.raises(ElfError, match=rf"^damaged.bpf.o: section '{PROG}': relocation at "
                                       rf"offset {new:#x} against '[.\w]+': {what}"):
        _open(data)


@pytest.mark.parametrize("symbol", [0, 999])
def test_relocation_symbol_outside_the_symbol_table_is_refused(objects, symbol):
    data = _damaged(objects["counter"])
    elfpatch.set_relocation(data, REL, DATA_AT, symbol=symbol)
    with pytest.raises(ElfError, match=rf"^damaged.bpf.o: section '{PROG}': relocation at "
                                       rf"offset 0x28 refers to symbol #{symbol}, but the "
                                       r"symbol table has symbols 1 to \d+$"):
        _open(data)


def test_relocated_helper_call_is_refused(objects):
    """A relocated call whose src_reg says "helper" was made a bpf-to-bpf call."""
    data = _damaged(objects["counter"])
    data[elfpatch.instruction_at(data, PROG, CALL_AT) + 1] = 0  # src_reg BPF_PSEUDO_CALL -> 0
    with pytest.raises(ElfError, match=rf"section '{PROG}': relocation at offset 0x18 "
                                       r"against '.text': the call at instruction 3 is not a "
                                       r"bpf-to-bpf call \(src_reg 0, not BPF_PSEUDO_CALL 1\)"):
        _open(data)


def test_call_to_a_misaligned_target_is_refused(objects):
    """The call names .text's section symbol (bump() is static): 4 bytes into the section
    is no instruction, and was rounded down onto one."""
    data = _damaged(objects["counter"])
    elfpatch.set_symbol(data, elfpatch.relocation_symbol(data, REL, CALL_AT), value=4)
    with pytest.raises(ElfError, match=rf"^damaged.bpf.o: section '{PROG}': relocation at "
                                       r"offset 0x18 against '.text': a call to offset 0x4, "
                                       r"which is not an instruction boundary$"):
        _open(data)


def test_function_crossing_its_section_end_is_refused(objects):
    data = _damaged(objects["counter"])
    elfpatch.set_symbol(data, "bump", value=8)  # 160 bytes from 8: past .text's 160
    with pytest.raises(ElfError, match=r"^damaged.bpf.o: section '.text': function 'bump' "
                                       r"\(160 bytes at offset 0x8\) is not whole "
                                       r"instructions inside the section's 160 bytes$"):
        _open(data)


def test_global_data_offset_outside_its_section_is_refused(objects):
    """The offset went into the ld_imm64's 32-bit imm: past 2^31 the loader crashed with a
    struct.error, below it the kernel refused it without saying where."""
    data = _damaged(objects["counter"])
    elfpatch.set_symbol(data, "total_calls", value=0x80000000)
    obj = _open(data)
    with pytest.raises(ElfError, match=rf"^damaged.bpf.o: section '{PROG}': relocation at "
                                       r"offset 0x28 \(instruction 5\) against 'total_calls': "
                                       r"offset 2147483648 is outside section '.bss' \(8 "
                                       r"bytes\)$"):
        _link_all(obj)


def test_kconfig_offset_outside_its_extern_is_refused(objects):
    """An addend on a .kconfig extern pointed at the next extern."""
    data = _damaged(objects["globals"])
    at = elfpatch.instruction_at(data, GLOBALS_PROG, 0x170)
    struct.pack_into("<i", data, at + 4, 8)  # imm of the ld_imm64 of LINUX_KERNEL_VERSION
    obj = _open(data)
    with pytest.raises(ElfError, match=rf"section '{GLOBALS_PROG}': relocation at offset "
                                       r"0x170 \(instruction 46\) against "
                                       r"'LINUX_KERNEL_VERSION': offset 8 is outside the "
                                       r"4-byte extern"):
        _link_all(obj)


def test_misaligned_line_info_is_refused(objects):
    data = _damaged(objects["counter"])
    ext = elfpatch.section_offset(data, ".BTF.ext")
    hdr_len, _, _, line_off, _ = struct.unpack_from("<IIIII", data, ext + 4)
    # record size, then the first block: section name, count, records (insn_off first)
    first = ext + hdr_len + line_off + 4 + 8
    rec_size = struct.unpack_from("<I", data, ext + hdr_len + line_off)[0]
    struct.pack_into("<I", data, first + rec_size, 4 + struct.unpack_from(
        "<I", data, first + rec_size)[0])
    with pytest.raises(ElfError, match=r"^damaged.bpf.o: section '.BTF.ext': line_info record "
                                       r"for section '[\w/.]+' at offset 0x[0-9a-f]+: not a "
                                       r"multiple of the 8-byte instruction size$"):
        _open(data)


def test_global_data_larger_than_a_map_value_is_refused(objects):
    """value_size is 32 bits in bpf_attr: 4 GiB + 8 was cut to 8 when the map was made."""
    data = _damaged(objects["counter"])
    elfpatch.set_section_size(data, ".bss", (1 << 32) + 8)
    with pytest.raises(ElfError, match=r"^damaged.bpf.o: section '.bss': 4294967304 bytes of "
                                       r"global data do not fit in one map value"):
        _open(data)


@pytest.mark.parametrize("field,value,what", [
    (16, 0x2, "ELF type 2 is not a relocatable object"),
    (58, 0, "section header size 0, not 64"),
    (60, 0, "section count 0 is not supported"),
    (60, 0x1000, r"the section header table \(4096 headers at offset"),
    (60, 0xFFF0, "section count 65520 is not supported"),
])
def test_bad_elf_header_is_refused(objects, field, value, what):
    data = _damaged(objects["counter"])
    struct.pack_into("<H", data, field, value)
    with pytest.raises(ElfError, match=rf"^damaged.bpf.o: {what}"):
        _open(data)


MAP_NAMED_BSS = """
#include "bpf_helpers.h"
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} bss SEC(".maps");
__u64 hits = 0;
SEC("tp/syscalls/sys_enter_getpid")
int count(void *ctx)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&bss, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	__sync_fetch_and_add(&hits, 1);
	return 0;
}
"""


def test_map_named_like_a_section_alias_keeps_its_name():
    """`obj.maps.bss` is the map called bss, not the .bss section's map."""
    obj = Object.open(build_source("map_named_bss", MAP_NAMED_BSS))
    assert obj.maps.bss.max_entries == 4
    assert obj.maps[".bss"].kind == "data"


@requires_root
def test_map_named_like_a_section_alias_is_the_one_the_program_uses(no_leaks):
    """The program's references to map `bss` were given the .bss section's map."""
    with Object.open(build_source("map_named_bss", MAP_NAMED_BSS)) as obj:
        obj.load()
        obj.attach_all()
        os.getpid()
        assert obj.maps.bss.max_entries == 4
        assert obj.maps.bss[1] >= 1
        assert obj.bss.hits >= 1


# -- (B) hostile input ---------------------------------------------------------------------
VARIANTS = 200
#: a variant is loaded only when its maps fit in this: arrays are preallocated, and a flipped
#: max_entries or value size can ask the kernel for gigabytes
MAX_MAP_BYTES = 1 << 22


def _variants(data: bytes, seed: int) -> list[tuple[str, bytes]]:
    """Truncations, bit flips anywhere, and bit flips where the loader reads (headers,
    symbols, relocations, code, BTF, maps), from a fixed seed."""
    rng = random.Random(seed)
    regions = elfpatch.regions(data)
    out = []
    for i in range(VARIANTS):
        kind = ("cut", "flip", "aimed")[i % 3]
        if kind == "cut":
            out.append((f"cut at {(n := rng.randrange(len(data)))}", data[:n]))
            continue
        b = bytearray(data)
        flips = []
        for _ in range(rng.randint(1, 4)):
            lo, hi = rng.choice(regions) if kind == "aimed" else (0, len(data))
            pos, bit = rng.randrange(lo, hi), rng.randrange(8)
            b[pos] ^= 1 << bit
            flips.append(f"{pos:#x}.{bit}")
        out.append((f"bits {' '.join(flips)}", bytes(b)))
    return out


def _map_bytes(obj: Object) -> int:
    specs = list(obj.map_specs.values())
    specs += [s.inner for s in specs if s.inner is not None]
    return max((max(s.max_entries, 1) * (s.key_size + s.value_size) for s in specs), default=0)


@requires_root
@pytest.mark.parametrize("name,seed", [("counter", 1), ("globals", 2)])
def test_hostile_variants_give_only_loader_errors(objects, no_leaks, name, seed):
    """Each variant opens and loads, or is refused with the loader's own error (ElfError,
    VerifierError, NotSupportedError), one line for ElfError, naming the file; any other
    exception fails the test with its traceback. Every loop in the loader is bounded by
    the data size, so the test ends."""
    with open(objects[name], "rb") as f:
        original = f.read()
    outcomes = {"refused at open": 0, "loaded": 0, "refused at load": 0, "not loaded": 0}
    for i, (how, data) in enumerate(_variants(original, seed)):
        label = f"variant{i}.bpf.o"
        try:
            obj = Object.open(label, data=data)
        except ElfError as e:
            assert str(e).startswith(label) and "\n" not in str(e), (how, str(e))
            outcomes["refused at open"] += 1
            continue
        if _map_bytes(obj) > MAX_MAP_BYTES:
            outcomes["not loaded"] += 1
            continue
        with obj:
            try:
                obj.load()
                outcomes["loaded"] += 1
            except (ElfError, VerifierError, NotSupportedError) as e:
                assert str(e).startswith(label), (how, str(e))
                if isinstance(e, ElfError):
                    assert "\n" not in str(e), (how, str(e))
                outcomes["refused at load"] += 1
    # the same seed gives the same variants; how many of each kind depends on the clang
    # that built the object, so only that both kinds occur is checked
    assert outcomes["refused at open"] and outcomes["loaded"], outcomes


def test_ld_imm64_cut_off_by_its_function_is_refused(objects):
    """count_getpid shrunk to end between the two halves of its ld_imm64 of total_calls: the
    map reference was written into whatever followed it."""
    data = _damaged(objects["counter"])
    elfpatch.set_symbol(data, "count_getpid", size=48)  # 6 instructions: 0..5
    obj = _open(data)
    with pytest.raises(ElfError, match=rf"^damaged.bpf.o: section '{PROG}': the ld_imm64 "
                                       r"instruction 5 is cut off by the end of its "
                                       r"function$"):
        _link(obj, obj.programs.count_getpid, _Target(obj))


def test_bad_line_info_string_is_refused_when_opened(objects):
    """Line info strings are read only to report a verifier error, where a bad one raised a
    BTFError instead of the verifier's message."""
    data = _damaged(objects["counter"])
    ext = elfpatch.section_offset(data, ".BTF.ext")
    hdr_len, _, _, line_off, _ = struct.unpack_from("<IIIII", data, ext + 4)
    first = ext + hdr_len + line_off + 4 + 8
    struct.pack_into("<I", data, first + 8, 0x7FFFFFF0)  # line_off of the first record
    with pytest.raises(ElfError, match=r"^damaged.bpf.o: section '.BTF.ext': line_info: "
                                       r"string offset 2147483632 is outside"):
        _open(data)


SELF_INNER = """
#include "bpf_helpers.h"
struct self_def {
	__uint(type, 12); /* BPF_MAP_TYPE_ARRAY_OF_MAPS */
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct self_def);
} outer SEC(".maps");
SEC("tp/syscalls/sys_enter_getpid")
int f(void *ctx) { return 0; }
"""


def test_map_that_is_its_own_inner_map_is_refused():
    """Valid C: the inner map definition was parsed again and again (RecursionError)."""
    with pytest.raises(ElfError, match=r"self_inner.bpf.o: section '.maps': map 'outer.inner': "
                                       r"multi-level inner maps are not supported$"):
        Object.open(build_source("self_inner", SELF_INNER))


HUGE_KEY = """
#include "bpf_helpers.h"
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, char[1 << 17][1 << 17]);
	__type(value, __u32);
} huge SEC(".maps");
SEC("tp/syscalls/sys_enter_getpid")
int f(void *ctx) { return 0; }
"""


def test_map_key_larger_than_32_bits_is_refused():
    """key_size 2^34 went into a 32-bit bpf_attr field as 0."""
    with pytest.raises(ElfError, match=r"section '.maps': map 'huge': key size 17179869184 "
                                       r"does not fit in 32 bits"):
        Object.open(build_source("huge_key", HUGE_KEY))
