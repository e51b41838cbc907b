"""Reading .note.stapsdt: every field against binutils' readelf, the probe sites' file
offsets against the bytes there (each site is a `nop`), the .stapsdt.base adjustment on a
moved copy, and the argument spec parser on every operand form."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from pybpf.usdt import UsdtError, find, parse_arg, parse_args, probes, read_probes

PYTHON = "/usr/bin/python3.11"
_NOTE = re.compile(r"Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: "
                   r"(0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)")


def readelf_notes(path: str) -> list[tuple[str, str, int, int, str]]:
    if shutil.which("readelf") is None:
        pytest.skip("needs readelf (binutils)")
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                         check=True).stdout
    return [(m[1], m[2], int(m[3], 16), int(m[5], 16), m[6].strip())
            for m in _NOTE.finditer(out)]


def ours(path: str) -> list[tuple[str, str, int, int, str]]:
    return [(p.provider, p.name, p.address, p.semaphore, p.arg_spec) for p in probes(path)]


def test_notes_match_readelf(built: tuple[Path, Path]) -> None:
    for path in map(str, built):
        want = readelf_notes(path)
        assert want, f"readelf found no notes in {path}"
        assert ours(path) == want


def test_python_notes_match_readelf() -> None:
    if not Path(PYTHON).exists():
        pytest.skip(f"needs {PYTHON}")
    assert ours(PYTHON) == readelf_notes(PYTHON)
    names = {p.name for p in probes(PYTHON)}
    assert {"gc__start", "gc__done", "function__entry", "function__return"} <= names


def test_sites_are_nops_and_semaphores_in_probes(built: tuple[Path, Path]) -> None:
    for path in built:
        data = path.read_bytes()
        with open(path, "rb") as f:
            sec = ELFFile(f).get_section_by_name(".probes")
            probes_span = (sec["sh_offset"], sec["sh_offset"] + sec["sh_size"]) if sec else None
        for p in probes(str(path)):
            assert data[p.file_offset] == 0x90, f"{p.name}: no nop at 0x{p.file_offset:x}"
            if p.semaphore:
                assert probes_span is not None
                assert probes_span[0] <= p.semaphore_offset < probes_span[1]
            else:
                assert p.semaphore_offset == 0
    prog, lib = built
    assert [p.semaphore != 0 for p in probes(str(lib))] == [True]
    assert not any(p.semaphore for p in probes(str(prog)))


def test_stapsdt_base_moves_the_addresses(built: tuple[Path, Path], tmp_path: Path) -> None:
    """A copy whose notes record a .stapsdt.base 0x40 lower than the section really is (as
    after prelink moved it): pc and semaphore move up by 0x40."""
    lib = built[1]
    data = bytearray(lib.read_bytes())
    with open(lib, "rb") as f:
        note = ELFFile(f).get_section_by_name(".note.stapsdt")
        start, size = note["sh_offset"], note["sh_size"]
    pos = start
    while pos < start + size:
        namesz, descsz, _ = struct.unpack_from("<III", data, pos)
        desc = pos + 12 + (namesz + 3) // 4 * 4
        base = struct.unpack_from("<Q", data, desc + 8)[0]
        struct.pack_into("<Q", data, desc + 8, base - 0x40)
        pos = desc + (descsz + 3) // 4 * 4
    moved = tmp_path / "moved.so"
    moved.write_bytes(bytes(data))
    before, after = read_probes(str(lib)), read_probes(str(moved))
    assert [a.address - b.address for a, b in zip(after, before, strict=True)] == [0x40]
    assert after[0].file_offset == before[0].file_offset + 0x40
    assert after[0].semaphore == before[0].semaphore + 0x40


def test_find_names_and_errors(built: tuple[Path, Path]) -> None:
    prog, lib = map(str, built)
    assert [p.name for p in find(prog, "regs", "app")] == ["regs"]
    assert [p.name for p in find(prog, "regs")] == ["regs"]  # any provider
    assert sorted(p.name for p in find(prog, "*o*", "app")) == ["consts", "global", "memory",
                                                                 "noargs"]
    with pytest.raises(UsdtError, match="no USDT probe 'app:nosuch'.*app:regs"):
        find(prog, "nosuch", "app")
    with pytest.raises(UsdtError, match="has no USDT probes"):
        find("/bin/true" if Path("/bin/true").exists() else lib, "x")
    with pytest.raises(UsdtError, match="does not exist|cannot find"):
        probes("/nonexistent/binary")


@pytest.mark.parametrize("spec, fields", [
    ("-4@%eax", dict(size=4, signed=True, kind="reg", reg="ax", reg_size=4)),
    ("8@%rbp", dict(size=8, signed=False, kind="reg", reg="bp")),
    ("1@%ah", dict(size=1, kind="reg", reg="ax", reg_size=1, reg_shift=8)),
    ("-1@%dil", dict(size=1, signed=True, kind="reg", reg="di", reg_size=1)),
    ("2@%r12w", dict(size=2, kind="reg", reg="r12", reg_size=2)),
    ("-4@%r8d", dict(kind="reg", reg="r8", reg_size=4)),
    ("8@8(%rbp)", dict(kind="mem", reg="bp", offset=8)),
    ("-4@-20(%rsp)", dict(kind="mem", reg="sp", offset=-20, signed=True)),
    ("-4@(%r8)", dict(kind="mem", reg="r8", offset=0)),
    ("8@0x10(%rax,%rdx,8)", dict(kind="mem", reg="ax", offset=16, index="dx", scale=8)),
    ("-8@glob(%rip)", dict(kind="mem", reg="ip", symbol="glob", offset=0)),
    ("4@tab+12(%rip)", dict(kind="mem", reg="ip", symbol="tab", offset=12)),
    ("-4@$-3", dict(kind="const", value=-3, signed=True)),
    ("8@$0x10", dict(kind="const", value=16)),
    ("%rdi", dict(size=8, signed=True, kind="reg", reg="di")),  # old notes: no size
])
def test_parse_arg(spec: str, fields: dict[str, object]) -> None:
    arg = parse_arg(spec)
    for k, v in fields.items():
        assert getattr(arg, k) == v, (k, arg)


@pytest.mark.parametrize("spec, words", [
    ("3@%eax", "size 3"),
    ("4@%xmm0", "unknown x86-64 register"),
    ("4@8(%eax)", "32-bit address"),
    ("4@glob(%rax)", "needs %rip"),
    ("4@*foo", "not a register, memory or constant"),
])
def test_parse_errors(spec: str, words: str) -> None:
    with pytest.raises(UsdtError, match=re.escape(words)):
        parse_arg(spec)


def test_parse_args_and_types() -> None:
    args = parse_args("-1@%dil 2@%si -4@%edx 8@%rcx")
    assert [a.type_name for a in args] == ["s8", "u16", "s32", "u64"]
    assert parse_args("") == []
    assert parse_args("-4@%eax")[0].describe() == "int32 in %eax"
