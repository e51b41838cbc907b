"""Where user-space symbols come from (.symtab, .dynsym, .gnu_debugdata, build-id debug files)
and what an address no symbol covers is called, on gcc-built targets and this machine's libc."""

from __future__ import annotations

import ctypes
import lzma
import os
import shutil
import subprocess

import pytest

from pybpf.symbols import elf
from pybpf.symbols.elf import ElfSymbols
from pybpf.symbols.procmaps import ProcessMaps

TOOLS = ("gcc", "strip", "objcopy", "nm")
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason="needs gcc and binutils")

# `hidden` is static and placed right after the exported `visible`
# (-fno-toplevel-reorder keeps source order), so a stripped binary has a gap where a
# nearest-preceding-symbol lookup would wrongly say "visible"
SOURCE = r"""
#include <stdio.h>
__attribute__((noinline)) int visible(int x) { return x * 3 + 1; }
static __attribute__((noinline)) int hidden(int x)
{ int s = 0; for (int i = 0; i < x; i++) s += (i ^ x) * 7; return s; }
int entry(int x) { return visible(x) + hidden(x); }
int main(int argc, char **argv) { printf("%d\n", entry(argc)); return 0; }
"""


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _addr(binary: str, name: str) -> tuple[int, int]:
    for line in _run("nm", "-S", "--defined-only", binary).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[0], 16), int(parts[1], 16)
    raise AssertionError(f"{name} not in nm {binary}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """{variant: path}: full, stripped, stripped + .gnu_debugdata, shared library (stripped),
    and a debug root holding the full binary's debug file under its build id."""
    d = tmp_path_factory.mktemp("elf")
    (d / "t.c").write_text(SOURCE)
    full, lib = str(d / "full"), str(d / "libt.so")
    flags = ["-O1", "-g", "-fno-toplevel-reorder", "-fno-inline", "-Wl,--build-id"]
    _run("gcc", *flags, "-rdynamic", "-o", full, str(d / "t.c"))
    _run("gcc", *flags, "-shared", "-fPIC", "-o", lib, str(d / "t.c"))
    _run("strip", "--strip-all", lib)
    stripped = str(d / "stripped")
    _run("strip", "--strip-all", "-o", stripped, full)
    # a debug file where Debian's -dbgsym packages put one: .build-id/xx/rest.debug
    build_id = ElfSymbols(full).build_id
    root = d / "debug"
    (root / ".build-id" / build_id[:2]).mkdir(parents=True)
    _run("objcopy", "--only-keep-debug", full,
         str(root / ".build-id" / build_id[:2] / f"{build_id[2:]}.debug"))
    # Fedora's MiniDebugInfo: function symbols only, xz-compressed, in .gnu_debugdata
    keep = d / "keep.txt"
    keep.write_text("".join(f"{p[0]}\n" for p in (
        line.split() for line in _run("nm", "-P", "--defined-only", full).splitlines())
        if len(p) > 1 and p[1] in ("t", "T", "w", "W")))
    mini = str(d / "mini")
    _run("objcopy", "--only-keep-debug", full, mini + ".debug")
    _run("objcopy", "-S", "--remove-section", ".comment", f"--keep-symbols={keep}",
         mini + ".debug", mini)
    with open(mini, "rb") as f:
        (d / "mini.xz").write_bytes(lzma.compress(f.read(), format=lzma.FORMAT_XZ))
    minidebug = str(d / "minidebug")
    _run("objcopy", f"--add-section=.gnu_debugdata={d / 'mini.xz'}", stripped, minidebug)
    return {"full": full, "stripped": stripped, "minidebug": minidebug, "lib": lib,
            "debug_root": str(root)}


def _name(table: ElfSymbols, addr: int) -> str | None:
    found = table.lookup(addr)
    return None if found is None else found[0].name


def test_unstripped_names_static_functions(built):
    table = ElfSymbols(built["full"])
    hidden, size = _addr(built["full"], "hidden")
    assert _name(table, hidden) == "hidden"
    assert _name(table, hidden + size - 1) == "hidden"
    assert any(s.endswith(".symtab") for s in table.sources)


def test_stripped_gap_is_not_the_previous_symbol(built):
    table = ElfSymbols(built["stripped"])
    assert not any(s.endswith(".symtab") for s in table.sources)
    visible, vsize = _addr(built["full"], "visible")
    hidden, _ = _addr(built["full"], "hidden")
    assert visible + vsize <= hidden, "the test wants hidden after visible"
    assert _name(table, visible) == "visible"
    assert _name(table, hidden) is None
    assert _name(table, visible + vsize) is None  # one byte past the end


def test_gnu_debugdata_restores_local_functions(built):
    table = ElfSymbols(built["minidebug"])
    hidden, _ = _addr(built["full"], "hidden")
    assert _name(table, hidden + 2) == "hidden"
    assert any(".gnu_debugdata" in s for s in table.sources)


def test_build_id_debug_file(built, monkeypatch):
    hidden, _ = _addr(built["full"], "hidden")
    monkeypatch.setattr(elf, "DEBUG_ROOTS", [built["debug_root"]])
    table = ElfSymbols(built["stripped"])
    assert _name(table, hidden) == "hidden"
    assert any(s.startswith(built["debug_root"]) for s in table.sources)
    monkeypatch.setattr(elf, "DEBUG_ROOTS", [])
    assert _name(ElfSymbols(built["stripped"]), hidden) is None


def test_usym_unknown_frame_in_a_loaded_stripped_library(built):
    lib = ctypes.CDLL(built["lib"])
    visible = ctypes.cast(lib.visible, ctypes.c_void_p).value
    assert lib.entry(3) == 10 + sum((i ^ 3) * 7 for i in range(3))
    pm = ProcessMaps(os.getpid())
    name = os.path.basename(built["lib"])
    assert pm.usym(visible, with_offset=False) == f"visible [{name}]"
    assert pm.usym(visible + 1) == f"visible+0x1 [{name}]"
    # `hidden` follows `visible` in the file; the stripped library does not name it
    lib_vaddr, _ = _addr(built["full"], "visible")
    hidden_vaddr, _ = _addr(built["full"], "hidden")
    gap = visible + (hidden_vaddr - lib_vaddr)
    m = pm.find(gap)
    offset = gap - m.start + m.offset
    assert pm.usym(gap, with_offset=False) == f"[unknown] [{name}]"
    assert pm.usym(gap) == f"[{name}+0x{offset:x}]"


def test_real_libc_local_function_through_debug_file():
    paths = _mapped_libc()
    table = ElfSymbols(paths[0]) if paths else None
    if table is None or not any(".build-id" in s for s in table.sources):
        pytest.skip("libc's debug file (libc6-dbg) is not installed")
    dynsym = {n for n in _run("nm", "-D", "--defined-only", table.path).split()}
    debug = next(s for s in table.sources if ".build-id" in s).rsplit(" ", 1)[0]
    for line in _run("nm", "-S", "--defined-only", debug).splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] == "t" and parts[3] not in dynsym \
                and int(parts[1], 16) > 16 and "." not in parts[3]:
            addr = int(parts[0], 16)
            assert _name(table, addr + 8) == parts[3]
            break
    else:
        pytest.skip("no sized local function in libc's debug symbols")


def _mapped_libc() -> list[str]:
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libc.so" in line}
    return sorted(p for p in paths if p.startswith("/"))
