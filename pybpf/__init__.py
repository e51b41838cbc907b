"""pybpf: eBPF from Python, with no C compiler in the loop.

    from pybpf import asm, maps, attach, Program, VerifierError, NotSupportedError

Submodules load on first use, so `import pybpf` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from pybpf.sys.errors import (
    BPFError,
    BPFPermissionError,
    MapFullError,
    NotSupportedError,
    VerifierError,
)

__version__ = "0.1.0"

_LAZY = {
    "asm": ("pybpf.asm", None),
    "maps": ("pybpf.maps", None),
    "attach": ("pybpf.link", None),
    "link": ("pybpf.link", None),
    "btf": ("pybpf.btf", None),
    "events": ("pybpf.events", None),
    "symbols": ("pybpf.symbols", None),
    "Program": ("pybpf.program", "Program"),
    "Object": ("pybpf.elf", "Object"),
    "enable_stats": ("pybpf.program", "enable_stats"),
    "bpf": ("pybpf.bpf", None),
    "CompileError": ("pybpf.compiler.errors", "CompileError"),
    # the helpers of compiled code: every name of pybpf.compiler.runtime.BUILTIN_FUNCTIONS
    # (pid, tid, uid, gid, ktime_ns, cpu, numa_node, cgroup_id, prandom, comm, kstack, ...)
    "net": ("pybpf.net", None),
    "hist": ("pybpf.compiler.lib.hist", None),
    "char": ("pybpf.types", "char"),
    "u8": ("pybpf.types", "u8"), "u16": ("pybpf.types", "u16"),
    "u32": ("pybpf.types", "u32"), "u64": ("pybpf.types", "u64"),
    "s8": ("pybpf.types", "s8"), "s16": ("pybpf.types", "s16"),
    "s32": ("pybpf.types", "s32"), "s64": ("pybpf.types", "s64"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
    elif not name.startswith("_"):
        from pybpf.compiler.runtime import BUILTIN_FUNCTIONS

        if name not in BUILTIN_FUNCTIONS:
            raise AttributeError(f"module 'pybpf' has no attribute {name!r}")
        value = BUILTIN_FUNCTIONS[name]
    else:
        raise AttributeError(f"module 'pybpf' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["BPFError", "BPFPermissionError", "MapFullError", "NotSupportedError",
           "VerifierError", *_LAZY]
