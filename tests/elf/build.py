"""Compiling the test programs in tests/elf/progs with clang (a test-only dependency).

Objects go to tests/elf/build/ (or $PYBPF_ELF_BUILD) and are rebuilt when their source or
bpf_helpers.h is newer. The VM tests reuse the objects built on the host.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

PROGS = os.path.join(os.path.dirname(__file__), "progs")
BUILD = os.environ.get("PYBPF_ELF_BUILD") or os.path.join(os.path.dirname(__file__), "build")
CLANG_FLAGS = ["-target", "bpf", "-O2", "-g"]
NAMES = ("counter", "ringbuf", "globals", "core", "net", "tracing")


def clang() -> str | None:
    return shutil.which("clang")


def _stale(src: str, obj: str) -> bool:
    if not os.path.exists(obj):
        return True
    newest = max(os.path.getmtime(src), os.path.getmtime(os.path.join(PROGS, "bpf_helpers.h")))
    return os.path.getmtime(obj) < newest


def build(name: str, extra: tuple[str, ...] = ()) -> str:
    """The path of progs/<name>.bpf.c compiled (skips the test when clang is missing)."""
    src = os.path.join(PROGS, f"{name}.bpf.c")
    obj = os.path.join(BUILD, f"{name}{''.join(extra).replace('-', '_')}.bpf.o")
    if not _stale(src, obj):
        return obj
    cc = clang()
    if cc is None:
        pytest.skip("clang is not installed (Debian package 'clang'): the .bpf.o test "
                    "programs cannot be built")
    os.makedirs(BUILD, exist_ok=True)
    tmp = obj + f".{os.getpid()}.tmp"
    proc = subprocess.run([cc, *CLANG_FLAGS, *extra, "-c", src, "-o", tmp],
                          capture_output=True, text=True)
    if proc.returncode:
        raise AssertionError(f"clang failed on {src}:\n{proc.stderr}")
    os.replace(tmp, obj)
    return obj


def build_source(name: str, source: str, extra: tuple[str, ...] = ()) -> str:
    """Compile C `source` (it may include "bpf_helpers.h") as build/<name>.bpf.o."""
    os.makedirs(BUILD, exist_ok=True)
    src = os.path.join(BUILD, f"{name}.bpf.c")
    obj = os.path.join(BUILD, f"{name}.bpf.o")
    old = None
    if os.path.exists(src):
        with open(src) as f:
            old = f.read()
    if old == source and not _stale(src, obj):
        return obj
    cc = clang()
    if cc is None:
        pytest.skip("clang is not installed (Debian package 'clang'): the .bpf.o test "
                    "programs cannot be built")
    with open(src, "w") as f:
        f.write(source)
    proc = subprocess.run([cc, *CLANG_FLAGS, *extra, "-I", PROGS, "-c", src, "-o", obj],
                          capture_output=True, text=True)
    if proc.returncode:
        raise AssertionError(f"clang failed on {src}:\n{proc.stderr}")
    return obj


def prebuilt(name: str) -> str:
    """The object built earlier on the host (for the VM, where clang may be absent)."""
    obj = os.path.join(BUILD, f"{name}.bpf.o")
    if not os.path.exists(obj):
        pytest.skip(f"{obj} is not built: run tests/elf on the host first")
    return obj


if __name__ == "__main__":  # build everything (before a VM run)
    for n in NAMES:
        print(build(n))
