"""BTF: the kernel's type information, and tracepoint record layouts from tracefs.

>>> from pybpf.btf import kernel_btf
>>> b = kernel_btf()
>>> b.offsetof("task_struct", "pid"), b.sizeof("struct bpf_insn")

Everything loads lazily: the file is mapped, record offsets come from one fast pass (or a
disk cache), and only the types asked for are decoded.
"""

from __future__ import annotations

from typing import Any

from pybpf.btf.btf import BTF
from pybpf.btf.errors import BTFError, BTFFileError, BTFNotFoundError
from pybpf.btf.kernel import kernel_btf, kernel_modules, module_btf
from pybpf.btf.types import (
    Array,
    Composite,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Member,
    Modifier,
    Param,
    Ptr,
    Restrict,
    Struct,
    Type,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Void,
    Volatile,
)

_LAZY = {
    "MemberPath": "pybpf.btf.paths",
    "raw_tracepoint_args": "pybpf.btf.rawtp",
    "raw_tracepoint_proto": "pybpf.btf.rawtp",
    "tracepoint_record": "pybpf.btf.rawtp",
    "tracefs_root": "pybpf.btf.tracefs",
    "tracepoint_format": "pybpf.btf.tracefs",
    "list_tracepoints": "pybpf.btf.tracefs",
    "TracefsError": "pybpf.btf.tracefs",
    "TracepointFormat": "pybpf.btf.tpformat",
    "Field": "pybpf.btf.tpformat",
    "parse_format": "pybpf.btf.tpformat",
    "TracepointFormatError": "pybpf.btf.tpformat",
    "BTFBuilder": "pybpf.btf.writer",
}


def __getattr__(name: str) -> Any:  # tracefs and friends import only when used
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pybpf.btf' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "BTF", "BTFError", "BTFFileError", "BTFNotFoundError", "kernel_btf", "kernel_modules",
    "module_btf",
    "Array", "Composite", "Const", "Datasec", "DeclTag", "Enum", "Enum64", "Float", "Func",
    "FuncProto", "Fwd", "Int", "Member", "Modifier", "Param", "Ptr", "Restrict", "Struct",
    "Type", "Typedef", "TypeTag", "Union", "Var", "VarSecinfo", "Void", "Volatile",
    *_LAZY,
]  # fmt: skip
