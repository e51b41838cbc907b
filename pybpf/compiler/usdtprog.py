"""@bpf.usdt(path, provider, name): a restricted-Python program at a USDT probe.

`ctx.arg0`, `ctx.arg1`, ... are the probe's arguments, typed and read as its note says
(`usdtargs`); parameters after ctx name them in order (`def on_gc(ctx, generation)`).
Registers stay readable by name (`ctx.ip`). A probe whose sites read their arguments
differently (a macro inlined in several places) is compiled for one site: pass `site=N`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler import usdtargs
from pybpf.compiler.api import CompiledProgram
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.irtypes import Type
from pybpf.compiler.pyfront import contexts
from pybpf.compiler.pyfront.source import source_of
from pybpf.usdt import UsdtError, UsdtProbe


@dataclass
class UsdtContext(contexts.PtRegs):
    kind: str = "usdt"
    site: UsdtProbe | None = None
    arg_names: list[str] = field(default_factory=list)

    def params(self, names: list[str], annotations: list[Type | None],
               loc: Loc) -> list[tuple[str, Type, Any]]:
        assert self.site is not None
        out = []
        for i, name in enumerate(names[1:]):
            e = usdtargs.argument(self.site, i, loc, self.base)
            out.append((name, e.type, e))
        return out

    def field(self, name: str, loc: Loc) -> Any:
        assert self.site is not None
        if name.startswith("arg") and name[3:].isdigit():
            return usdtargs.argument(self.site, int(name[3:]), loc, self.base)
        if name in ("retval", "ret"):
            raise CompileError("USDT probes have no return value", loc,
                               "Their arguments are ctx.arg0, ctx.arg1, ...")
        return super().field(name, loc)


class UsdtProgram(CompiledProgram):
    hook_kind = "usdt"

    def __init__(self, pyfunc: Callable[..., Any], path: str, provider: str, name: str,
                 pid: int = -1, site: int | None = None) -> None:
        super().__init__(pyfunc)
        self.path, self.provider, self.probe_name = path, provider, name
        self.pid, self.site = pid, site
        self._sites: list[UsdtProbe] | None = None

    def sites(self) -> list[UsdtProbe]:
        """The probe sites this program attaches at (the note is read on first use)."""
        if self._sites is None:
            from pybpf.link.errors import AttachError
            from pybpf.link.usdt import resolve

            try:
                found = resolve(self.path, self.provider, self.probe_name, self.pid)
            except (LookupError, UsdtError, AttachError) as e:
                raise CompileError(str(e), source_of(self.pyfunc).def_loc()) from None
            if self.site is not None:
                if not 0 <= self.site < len(found):
                    raise CompileError(f"usdt {self.provider}:{self.probe_name} has "
                                       f"{len(found)} sites; there is no site={self.site}",
                                       source_of(self.pyfunc).def_loc())
                found = [found[self.site]]
            elif len({p.arg_spec for p in found}) > 1:
                specs = "; ".join(f"site {i}: {p.arg_spec}" for i, p in enumerate(found))
                raise CompileError(f"the sites of usdt {self.provider}:{self.probe_name} read "
                                   f"their arguments differently ({specs})",
                                   source_of(self.pyfunc).def_loc(),
                                   "Pass site=N to bpf.usdt for one of them.")
            self._sites = found
        return self._sites

    def where(self) -> dict[str, Any]:
        return {"path": self.path, "provider": self.provider, "name": self.probe_name,
                "pid": self.pid, "sites": self.sites()}

    def context(self) -> contexts.Context:
        return UsdtContext(site=self.sites()[0])


__all__ = ["UsdtContext", "UsdtProgram"]
