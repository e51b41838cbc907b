"""Label decoders."""

from __future__ import annotations

import os

import pytest

from pybpf.export import decoders as d


def test_int_hex_str() -> None:
    assert d.resolve("int")(42) == "42"
    assert d.resolve("hex")(255) == "0xff"
    assert d.resolve("comm")(b"bash\0\0junk") == "bash"
    assert d.resolve(None)(7) == "7"


def test_syscall_names() -> None:
    dec = d.resolve("syscall")
    assert dec(39) == "getpid" and dec(110) == "getppid"
    with pytest.raises(d.DecodeError):
        dec(99999)


def test_errno_signs_and_widths() -> None:
    dec = d.resolve("errno")
    assert dec(2) == dec(-2) == "ENOENT"
    assert dec((1 << 32) - 13) == "EACCES"  # an s32 -13 read as u32
    assert dec((1 << 64) - 1) == "EPERM"  # an s64 -1 read as u64
    assert dec(0) == "0"


def test_inet() -> None:
    dec = d.resolve("inet")
    assert dec(0x0100007F) == "127.0.0.1"  # the u32 of a tracepoint's __u8[4] 127.0.0.1
    assert dec(bytes([198, 18, 0, 1])) == "198.18.0.1"
    assert dec((0x2001000200000000, 1)) == "2001:2::1"
    assert dec(bytes(15) + b"\x01") == "::1"
    with pytest.raises(d.DecodeError):
        dec(b"abc")


def test_dev_and_disk() -> None:
    assert d.resolve("dev")((8 << 20) | 1) == "8:1"
    assert d.resolve("disk")((4095 << 20) | 77) == "4095:77"  # no such disk: the number


def test_static_table() -> None:
    dec = d.resolve({0: "read", 1: "write"})
    assert dec(0) == "read" and dec(5) == "5"
    with_default = d.static({"1": "one"}, default="other")
    assert with_default(1) == "one" and with_default(2) == "other"


def test_cgroup_root() -> None:
    if not os.path.isdir(d.CGROUP_ROOT):
        pytest.skip("no cgroup v2 hierarchy")
    assert d.resolve("cgroup")(os.stat(d.CGROUP_ROOT).st_ino) == "/"


def test_ksym() -> None:
    from pybpf.symbols.kallsyms import KernelSymbols

    syms = KernelSymbols()
    sym = syms.symbol("do_sys_openat2") if "do_sys_openat2" in syms else None
    if sym is None or not sym.addr:
        pytest.skip("kernel addresses hidden (kptr_restrict) or symbol absent")
    assert d.resolve("ksym")(sym.addr) == "do_sys_openat2"


def test_unknown_decoder() -> None:
    with pytest.raises(ValueError, match="unknown decoder"):
        d.resolve("nope")


def test_cache_is_bounded() -> None:
    c = d.BoundedCache(3)
    for i in range(10):
        c.put(i, str(i))
    assert len(c.data) == 3 and c.get(9) == "9" and c.get(0) is None
