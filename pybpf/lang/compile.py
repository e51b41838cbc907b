"""The whole program: expand probes, settle map and variable types (two discovery passes),
lower every probe to IR, create the maps, and generate instructions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pybpf import asm
from pybpf.compiler import fold, ir
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.irtypes import U32
from pybpf.lang import ast
from pybpf.lang import probes as pr
from pybpf.lang.errors import LangError
from pybpf.lang.irnodes import LangCodeGen
from pybpf.lang.lower import ProbeLowerer
from pybpf.lang.parser import parse
from pybpf.lang.semantic import MapInfo, Record, Symbols
from pybpf.lang.types import LT, merge

MAX_ENTRIES = 10240


@dataclass
class CompiledProbe:
    probe: pr.Probe
    tree: ast.Probe
    fn: ir.Function
    insns: list[asm.Instruction]


class Compiler:
    def __init__(self, src: str, file: str = "stdin", params: list[str] | None = None,
                 unsafe: bool = False, cpid: int | None = None) -> None:
        self.source, self.file = src, file
        self.params = params or []
        self.unsafe, self.cpid = unsafe, cpid
        self.tree = parse(src, file)
        self.syms = Symbols()
        self.names: list[str] = []
        self.start_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        self.var_types: dict[tuple[str, str], LT] = {}
        self._formats: dict[tuple[str, str], Any] = {}
        self._events: ir.MapRef | None = None
        self._stacks: ir.MapRef | None = None
        self._refused: Any = None  # the kernel's counts of refused updates and records
        self.probes: list[tuple[pr.Probe, ast.Probe]] = []
        self.compiled: list[CompiledProbe] = []

    # -- shared objects ------------------------------------------------------------------------
    def name_id(self, name: str) -> int:
        if name not in self.names:
            self.names.append(name)
        return self.names.index(name)

    def events_ref(self) -> ir.MapRef:
        if self._events is None:
            self._events = ir.MapRef(None, "events", U32, U32, kind="ringbuf")
        return self._events

    def stacks_ref(self) -> ir.MapRef:
        if self._stacks is None:
            self._stacks = ir.MapRef(None, "stacks", U32, U32, kind="stack_trace")
        return self._stacks

    def record(self, kind: str, fmt: str, args: tuple[LT, ...], extra: Any,
               node: ast.Node) -> Record:
        return self.syms.record(kind, fmt, args, extra)

    def var_type(self, probe: pr.Probe, name: str, lt: LT) -> LT:
        key = (probe.full_name, name)
        lt = lt.widened()
        if self.syms.final:
            return self.var_types.get(key, lt)
        known = self.var_types.get(key)
        self.var_types[key] = lt if known is None or known.kind != lt.kind else merge(known, lt)
        return self.var_types[key]

    def tracepoint_format(self, probe: pr.Probe, loc: Loc) -> Any:
        key = (probe.target, probe.name)
        if key not in self._formats:
            from pybpf.btf import tracepoint_format

            try:
                self._formats[key] = tracepoint_format(probe.target, probe.name)
            except Exception as e:  # noqa: BLE001 - any failure is "unknown tracepoint"
                raise LangError(f"unknown tracepoint {probe.target}:{probe.name}: "
                                f"{str(e).splitlines()[0] if str(e) else type(e).__name__}",
                                loc) from None
        return self._formats[key]

    # -- passes ------------------------------------------------------------------------------------
    def expand(self) -> list[tuple[pr.Probe, ast.Probe]]:
        out: list[tuple[pr.Probe, ast.Probe]] = []
        for tree in self.tree.probes:
            for spec in tree.specs:
                for p in pr.expand(spec.text, spec.loc):
                    out.append((p, tree))
        self.probes = out
        return out

    def lower_all(self) -> list[ir.Function]:
        fns = []
        for probe, tree in self.probes:
            fns.append(ProbeLowerer(self, probe, tree).lower())
        return fns

    def compile(self) -> list[CompiledProbe]:
        self.expand()
        for _ in range(2):  # discovery: map and variable types across probes
            self.syms.records.clear()
            self.names.clear()
            try:
                self.lower_all()
            except LangError:
                pass
        self.syms.final = True
        self.syms.records.clear()
        self.names.clear()
        for info in self.syms.maps.values():
            info.ref = None
        fns = self.lower_all()
        self.create_maps()
        out = []
        for (probe, tree), fn in zip(self.probes, fns, strict=True):
            out.append(CompiledProbe(probe, tree, fn, self.generate(fn, tree)))
        self.compiled = out
        return out

    def generate(self, fn: ir.Function, tree: ast.Probe) -> list[asm.Instruction]:
        cg = None
        try:
            fold.run(fn)
            cg = LangCodeGen(fn)
            return cg.generate()
        except CompileError as e:
            raise LangError(e.message, e.loc if e.loc.line else tree.loc, e.hint) from None
        except Exception as e:  # a compiler bug: one message with the place
            loc = getattr(cg, "cur_loc", None)
            raise LangError(f"internal compiler error ({type(e).__name__}: {e})",
                            loc if loc is not None and loc.line else tree.loc,
                            "This is a bug in pybpf; please report it with this program.") \
                from e

    def create_maps(self) -> None:
        from pybpf.maps import Array, Hash, RingBuf, StackTrace

        for info in self.used_maps():
            ref = info.ref
            assert ref is not None
            ref.obj = Hash(key=ref.key.size, value=ref.value.size, max_entries=MAX_ENTRIES,
                           name=_map_name(info.name))
        if self._events is not None:
            self._events.obj = RingBuf(1 << 20, name="events")
        # one counter per map (updates it refused: full) and one for the ring buffer (records
        # it refused: full), reported when the session ends
        counted = [i.ref for i in self.used_maps()] + ([self._events] if self._events else [])
        if counted:
            self._refused = Array(value=8 * len(counted), max_entries=1, name="refused")
            for k, ref in enumerate(counted):
                assert ref is not None
                ref.failed = (self._refused, 8 * k)
        if self._stacks is not None:
            self._stacks.obj = StackTrace(max_entries=MAX_ENTRIES, name="stacks")

    def used_maps(self) -> list[MapInfo]:
        return [i for i in self.syms.maps.values() if i.ref is not None]

    def refused(self) -> tuple[dict[str, int], int]:
        """What the kernel refused so far: updates per map (by display name; the map was
        full) and records of the events ring buffer (it was full)."""
        if self._refused is None or self._refused.fd.closed:
            return {}, 0
        raw = self._refused.get(0)
        counts = [int.from_bytes(raw[k:k + 8], "little") for k in range(0, len(raw), 8)]
        maps = {i.display: counts[k] for k, i in enumerate(self.used_maps()) if counts[k]}
        return maps, counts[-1] if self._events is not None else 0

    def close(self) -> None:
        for info in self.syms.maps.values():
            if info.ref is not None and info.ref.obj is not None:
                info.ref.obj.close()
        for r in (self._events, self._stacks):
            if r is not None and r.obj is not None:
                r.obj.close()
        if self._refused is not None:
            self._refused.close()


def _map_name(name: str) -> str:
    return ("AT_" + "".join(c if c.isalnum() or c == "_" else "_" for c in name))[:15]
