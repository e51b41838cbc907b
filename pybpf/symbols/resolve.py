"""Find the file behind a binary name: a path, a shared library ("libc", "c", "libm.so.6")
through the dynamic linker's cache (`ldconfig -p`) and this process's own mappings, or a
command through PATH."""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess

from pybpf.symbols.errors import SymbolNotFoundError, nearest

_LDCONFIG_LINE = re.compile(r"^\s*(\S+)\s+\((.*?)\)(?:.*?)=>\s*(\S+)\s*$")
_ARCH_HINT = {"x86_64": "x86-64", "aarch64": "AArch64", "riscv64": "RISC-V"}.get(
    platform.machine(), "")


@functools.cache
def _ldconfig_entries() -> tuple[tuple[str, str, str], ...]:
    """(soname, flags, path) from `ldconfig -p`, this architecture's entries first."""
    exe = shutil.which("ldconfig") or next(
        (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if os.path.exists(p)), None)
    if exe is None:
        return ()
    try:
        out = subprocess.run([exe, "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    entries = [m.groups() for m in map(_LDCONFIG_LINE.match, out.splitlines()) if m]
    entries.sort(key=lambda e: 0 if _ARCH_HINT and _ARCH_HINT in e[1] else 1)
    return tuple(entries)


def _own_mappings() -> list[str]:
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    paths.append(parts[5].strip())
    except OSError:
        pass
    return list(dict.fromkeys(paths))


def _library_candidates(name: str) -> list[str]:
    base = name if name.startswith("lib") else f"lib{name}"
    return [name, f"{base}.so"] if ".so" in name else [f"{base}.so"]


def _matches(soname: str, name: str) -> bool:
    if soname == name:
        return True
    return any(soname == c or soname.startswith(c + ".") for c in _library_candidates(name))


def find_library(name: str) -> str | None:
    """The path of shared library `name` ("c", "libc", "libc.so.6"), or None."""
    for soname, _flags, path in _ldconfig_entries():
        if _matches(soname, name) and os.path.exists(path):
            return path
    for path in _own_mappings():
        if _matches(os.path.basename(path), name):
            return path
    return None


@functools.lru_cache(maxsize=256)
def _resolve(name: str) -> str:
    if "/" in name:
        if os.path.exists(name):
            return os.path.realpath(name)
        raise SymbolNotFoundError(f"binary {name!r} does not exist")
    library_like = name.startswith("lib") or ".so" in name
    finders = (find_library, shutil.which) if library_like else (shutil.which, find_library)
    for find in finders:
        found = find(name)
        if found:
            return os.path.realpath(found)
    known = [e[0] for e in _ldconfig_entries()]
    raise SymbolNotFoundError(
        f"cannot find binary or library {name!r} (looked in PATH, `ldconfig -p` and the "
        "libraries this process maps)", nearest(name, known, 3))


def resolve_binary(name_or_path: str) -> str:
    """The real path of a binary: a path as is, a library name through the linker cache, a
    command through PATH. Raises SymbolNotFoundError saying where it looked."""
    return _resolve(os.fspath(name_or_path))
