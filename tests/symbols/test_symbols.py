"""pybpf.symbols against the running kernel, this machine's libc and this Python process."""

from __future__ import annotations

import ctypes
import os
import shutil
import sys

import pytest

from pybpf import symbols
from pybpf.symbols import SymbolNotFoundError

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="/proc/kallsyms shows addresses only to root")


def _kallsyms_entry(wanted: str) -> tuple[int, str]:
    with open("/proc/kallsyms") as f:
        for line in f:
            addr, kind, name = line.split()[:3]
            if name == wanted:
                return int(addr, 16), kind
    pytest.skip(f"{wanted} is not in /proc/kallsyms")


@needs_root
def test_ksym_round_trip():
    addr, _ = _kallsyms_entry("do_sys_openat2")
    assert symbols.ksym_addr("do_sys_openat2") == addr
    assert symbols.ksym(addr) == "do_sys_openat2"
    assert symbols.ksym(addr + 0x1A) == "do_sys_openat2+0x1a"
    assert symbols.ksym(addr + 0x1A, with_offset=False) == "do_sys_openat2"


@needs_root
def test_ksym_addr_unknown_suggests():
    with pytest.raises(SymbolNotFoundError, match="do_sys_openat3.*nearest names:.*do_sys_openat2"):
        symbols.ksym_addr("do_sys_openat3")


def test_ksym_below_first_symbol():
    table = symbols.kernel_symbols()
    if not len(table):
        pytest.skip("kernel addresses are hidden")
    assert symbols.ksym(1) == "0x1"


def test_ksym_outside_any_symbol_is_unknown(tmp_path):
    """Addresses past the kernel image or far past a module's last symbol are not given to
    the symbol before them (0xffffffffffffff00 used to read 'ftrace_trampoline+0x3fdfef00')."""
    from pybpf.symbols.kallsyms import MAX_MODULE_SYMBOL_SPAN, KernelSymbols

    table = tmp_path / "kallsyms"
    table.write_text("ffffffff81000000 T _stext\n"
                     "ffffffff81000100 T vfs_read\n"
                     "ffffffff82000000 T _etext\n"
                     "ffffffff82400000 D last_var\n"
                     "ffffffffc0001000 t nf_hook\t[nf_tables]\n"
                     "ffffffffc0201000 t ftrace_trampoline\t[__builtin__ftrace]\n")
    syms = KernelSymbols(str(table))
    assert syms.ksym(0xffffffff81000105) == "vfs_read+0x5"
    assert syms.ksym(0xffffffff82400000) == "last_var"
    assert syms.ksym(0xffffffff82400001) == "0xffffffff82400001"  # past the image
    assert syms.ksym(0xffffffffc0001010) == "nf_hook+0x10 [nf_tables]"
    assert syms.ksym(0xffffffffc0001000 + MAX_MODULE_SYMBOL_SPAN) == "0xffffffffc0101000"
    assert syms.ksym(0xffffffffffffff00) == "0xffffffffffffff00"
    assert syms.ksym(0xffff888000000000) == "0xffff888000000000"  # the direct map


@pytest.mark.parametrize("name", ["getpid", "malloc"])
def test_elf_symbol_libc(name):
    path = symbols.resolve_binary("libc")
    sym = symbols.elf_symbol(path, name)
    addr, size, file_offset = sym
    assert addr > 0 and size > 0 and file_offset > 0
    assert sym.name == name and sym.kind == "func"
    # the symbol's bytes in the file are the function's code as this process maps it
    libc = ctypes.CDLL(path)
    live = ctypes.cast(getattr(libc, name), ctypes.c_void_p).value
    with open(path, "rb") as f:
        f.seek(file_offset)
        on_disk = f.read(min(size, 16))
    assert ctypes.string_at(live, len(on_disk)) == on_disk


def test_elf_symbol_by_library_names_agree():
    a = symbols.elf_symbol("c", "getpid")
    b = symbols.elf_symbol("libc", "getpid")
    c = symbols.elf_symbol(symbols.resolve_binary("libc.so.6"), "getpid")
    assert a == b == c


def test_elf_symbol_unknown_suggests():
    with pytest.raises(SymbolNotFoundError, match="'mallocc'.*nearest names:.*malloc"):
        symbols.elf_symbol("libc", "mallocc")


def test_resolve_binary_command_and_errors():
    assert symbols.resolve_binary("sh") == os.path.realpath(shutil.which("sh"))
    assert symbols.resolve_binary(sys.executable) == os.path.realpath(sys.executable)
    with pytest.raises(SymbolNotFoundError, match="no-such-binary-xyz"):
        symbols.resolve_binary("no-such-binary-xyz")
    with pytest.raises(SymbolNotFoundError, match="does not exist"):
        symbols.resolve_binary("/no/such/file")


def test_pie_executable_offsets():
    """A PIE executable's symbols map to file offsets through its PT_LOAD segments."""
    table = symbols.elf_symbols(shutil.which("sh"))
    for seg in table.segments:
        assert table.vaddr_to_offset(seg.vaddr) == seg.offset
        assert table.offset_to_vaddr(seg.offset) == seg.vaddr


def test_usym_of_this_python_process():
    libc = ctypes.CDLL(symbols.resolve_binary("libc"))
    addr = ctypes.cast(libc.getpid, ctypes.c_void_p).value
    here = os.getpid()
    assert symbols.usym(here, addr) == f"getpid [{os.path.basename(symbols.resolve_binary('libc'))}]"
    assert symbols.usym(here, addr + 2).startswith("getpid+0x2 [")
    py = ctypes.cast(ctypes.pythonapi.PyLong_FromLong, ctypes.c_void_p).value
    assert symbols.usym(here, py).startswith("PyLong_FromLong [")
    assert symbols.usym(here, 8) == "0x8"


def test_usym_unknown_process():
    with pytest.raises(SymbolNotFoundError, match="process 999999999 does not exist"):
        symbols.usym(999999999, 0x1000)
