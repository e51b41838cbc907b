"""Names a script uses that are declared outside it: enumerators of the kernel's BTF
(`TCP_ESTABLISHED`, `SKB_DROP_REASON_NOT_SPECIFIED`), usable as integer constants as in
bpftrace on a kernel with BTF."""

from __future__ import annotations

from functools import cache


@cache
def kernel_enumerator(name: str) -> int | None:
    """The value of enumerator `name` in vmlinux BTF (None: no such enumerator, or no BTF)."""
    from pybpf.btf import BTFError, kernel_btf

    try:
        return kernel_btf().enum_value(name)
    except (BTFError, OSError, LookupError):
        return None
