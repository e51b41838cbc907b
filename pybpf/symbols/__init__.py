"""Symbols: kernel addresses through /proc/kallsyms, user-space ELF symbols (for uprobes and
user stacks) and process mappings. Imports nothing from the rest of pybpf; its modules (and
pyelftools) load on first use."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ElfSymbol": "elf", "ElfSymbols": "elf", "elf_symbol": "elf", "elf_symbols": "elf",
    "SymbolNotFoundError": "errors", "KernelSymbol": "kallsyms", "KernelSymbols": "kallsyms",
    "kernel_symbols": "kallsyms", "ksym": "kallsyms", "ksym_addr": "kallsyms",
    "ProcessMaps": "procmaps", "process_maps": "procmaps", "usym": "procmaps",
    "find_library": "resolve", "resolve_binary": "resolve",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pybpf.symbols' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pybpf.symbols.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = sorted(_WHERE)
