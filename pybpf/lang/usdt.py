"""USDT probes in the one-liner language: `usdt:PATH:[PROVIDER:]NAME` expanded to one probe
per probe site (each site reads its arguments its own way), `arg0..argN` typed from the
site's note, and `-l 'usdt:PATH[:...]'`."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from pybpf.compiler import ir
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.irtypes import S64, U64
from pybpf.lang.errors import LangError
from pybpf.lang.types import LT

if TYPE_CHECKING:
    from pybpf.lang import ast
    from pybpf.lang.lower import ProbeLowerer

FORMS = ("usdt probes are written usdt:/path/to/binary:provider:name or "
         "usdt:/path/to/binary:name")


def _split(rest: str) -> tuple[str, str, str]:
    """(path, provider, name) of 'PATH:PROVIDER:NAME', 'PATH:NAME' or 'PATH' (provider ""
    means any; name "*" when absent)."""
    parts = rest.split(":")
    if len(parts) >= 3:
        return ":".join(parts[:-2]), parts[-2], parts[-1]
    if len(parts) == 2:
        return parts[0], "", parts[1]
    return parts[0], "", "*"


def _sites(path: str, provider: str, name: str) -> list[Any]:
    from pybpf.usdt import find, probes

    if provider in ("", "*") and name in ("", "*"):
        return probes(path)
    return find(path, name or "*", "" if provider == "*" else provider)


def expand(rest: str, loc: Loc) -> list[Any]:
    """The probes of `usdt:REST`: one per site of every matching probe."""
    from pybpf.lang.probes import Probe
    from pybpf.usdt import UsdtError

    path, provider, name = _split(rest)
    if not path or not name or ":" not in rest:
        raise LangError(FORMS, loc)
    try:
        sites = _sites(path, provider, name)
    except UsdtError as e:
        raise LangError(f"usdt: {e}", loc) from None
    if not sites:
        raise LangError(f"usdt: no USDT probes of {path} match {rest!r}", loc)
    wild = any(c in provider + name for c in "*?[")
    return [Probe("usdt", s.path, s.name, provider=s.provider, site=s, wild=wild)
            for s in sites]


def list_probes(rest: str) -> list[str]:
    """`-l 'usdt:PATH'`, `-l 'usdt:PATH:*'`, `-l 'usdt:PATH:PROVIDER:NA*'`: bpftrace's
    lines, one per probe name (not per site)."""
    from pybpf.usdt import probes

    path, provider, name = _split(rest)
    out = []
    for p in probes(path):
        if fnmatch.fnmatchcase(p.name, name or "*") and \
                fnmatch.fnmatchcase(p.provider, provider or "*"):
            out.append(f"usdt:{p.path}:{p.provider}:{p.name}")
    return sorted(set(out))  # as bpftrace lists them


def arg(lw: ProbeLowerer, e: ast.Ident, i: int) -> tuple[Any, LT]:
    """argN of a usdt probe: read as the site's note says, typed by its size and sign."""
    from pybpf.compiler import usdtargs

    site = lw.probe.site
    try:
        expr = usdtargs.argument(site, i, e.loc)
    except CompileError as err:
        raise lw.error(e, err.message, err.hint) from None
    # as bpftrace: a 64-bit integer, sign-extended when the spec says signed
    signed = expr.type.signed
    wide = ir.Cast(S64 if signed else U64, expr, loc=e.loc)
    return wide, LT("int", 64, signed)


__all__ = ["arg", "expand", "list_probes"]
