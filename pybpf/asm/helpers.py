"""Helper function ids and names (``enum bpf_func_id``), and kfunc BTF ids.

For helpers the running kernel's BTF is asked first (``pybpf.btf``, imported lazily); the
built-in table from the UAPI header is the fallback. Kfuncs exist only in BTF.
"""

from __future__ import annotations

from functools import lru_cache

from .errors import AsmError
from .helper_names import HELPER_NAMES

_PREFIX = "BPF_FUNC_"


@lru_cache(maxsize=1)
def helper_table() -> dict[str, int]:
    """Helper name (without ``bpf_``) -> id, from kernel BTF when readable."""
    table = {name: i for i, name in enumerate(HELPER_NAMES)}
    try:
        from pybpf.btf import kernel_btf  # lazy: btf is a sibling layer below asm

        values = kernel_btf().enum("bpf_func_id").values
        for key, value in dict(values).items():
            if key.startswith(_PREFIX) and not key.startswith("__"):
                table[key[len(_PREFIX):]] = int(value)
    except Exception:  # any failure means: use the built-in table
        pass
    return table


@lru_cache(maxsize=1)
def _names_by_id() -> dict[int, str]:
    out: dict[int, str] = {}
    for name, value in helper_table().items():
        out.setdefault(value, name)
    return out


def _strip(name: str) -> str:
    name = name.strip()
    if name.startswith(_PREFIX):
        return name[len(_PREFIX):]
    return name[4:] if name.startswith("bpf_") else name


def helper_id(name: str) -> int:
    """Id of a helper, by name with or without the ``bpf_`` prefix."""
    table = helper_table()
    key = _strip(name)
    if key in table and key != "unspec":
        return table[key]
    if name in table and name != "unspec":  # a helper whose own name starts with bpf_
        return table[name]
    raise AsmError(f"unknown helper {name!r}")


def is_helper(name: str) -> bool:
    try:
        helper_id(name)
    except AsmError:
        return False
    return True


def helper_name(helper: int) -> str:
    """The kernel's printed name of a helper id (``bpf_map_lookup_elem``)."""
    name = _names_by_id().get(helper)
    if name is None or helper == 0:
        raise AsmError(f"unknown helper id {helper}")
    return "bpf_" + name


def kfunc_id(name: str) -> int:
    """BTF id of a kernel function in vmlinux BTF, for BPF_PSEUDO_KFUNC_CALL."""
    try:
        from pybpf.btf import kernel_btf  # lazy: btf is a sibling layer below asm

        return int(kernel_btf().func(name).id)
    except Exception as exc:  # no BTF, or no such function
        raise AsmError(f"unknown kernel function {name!r} ({exc})") from None
