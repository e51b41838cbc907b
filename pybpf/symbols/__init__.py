"""Symbols: kernel addresses through /proc/kallsyms, user-space ELF symbols (for uprobes and
user stacks) and process mappings. Imports nothing from the rest of pybpf."""

from pybpf.symbols.elf import ElfSymbol, ElfSymbols, elf_symbol, elf_symbols
from pybpf.symbols.errors import SymbolNotFoundError
from pybpf.symbols.kallsyms import KernelSymbol, KernelSymbols, kernel_symbols, ksym, ksym_addr
from pybpf.symbols.procmaps import ProcessMaps, process_maps, usym
from pybpf.symbols.resolve import find_library, resolve_binary

__all__ = [
    "ElfSymbol", "ElfSymbols", "KernelSymbol", "KernelSymbols", "ProcessMaps",
    "SymbolNotFoundError", "elf_symbol", "elf_symbols", "find_library", "kernel_symbols",
    "ksym", "ksym_addr", "process_maps", "resolve_binary", "usym",
]
