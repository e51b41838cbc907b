"""The whole program: expand probes, settle map and variable types (two discovery passes),
lower every probe to IR, create the maps and the counters of what they refuse, and run each
probe's IR through the compiler's pipeline (`pybpf.compiler.pipeline`)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from pybpf import asm
from pybpf.compiler import ir, pipeline
from pybpf.compiler.accounting import Counters
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.irtypes import U32
from pybpf.compiler.recursion import room_to_recurse, too_deep
from pybpf.compiler.target import Target, kernel_target
from pybpf.lang import ast
from pybpf.lang import probes as pr
from pybpf.lang.errors import LangError
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
    compiled: pipeline.Compiled | None = None  # made again when a loop moves to bpf_loop


class Compiler:
    def __init__(self, src: str, file: str = "stdin", params: list[str] | None = None,
                 unsafe: bool = False, cpid: int | None = None,
                 target: Target | None = None) -> None:
        self.source, self.file = src, file
        self.target = target if target is not None else kernel_target()
        self.params = params or []
        self.unsafe, self.cpid = unsafe, cpid
        with room_to_recurse():
            try:
                self.tree = parse(src, file)
            except RecursionError:
                raise too_deep(None, LangError) from None
        self.syms = Symbols()
        self.names: list[str] = []
        self.start_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        self.var_types: dict[tuple[str, str], LT] = {}
        self._formats: dict[tuple[str, str], Any] = {}
        self._events: ir.MapRef | None = None
        self._stacks: ir.MapRef | None = None
        self.counters = Counters()  # the kernel's counts of refused updates and records
        self.probes: list[tuple[pr.Probe, ast.Probe]] = []
        self.standins: list[tuple[pr.Probe, ast.Probe]] = []  # see expand()
        self.compiled: list[CompiledProbe] = []
        self.warnings: list[str] = []
        self._script_types: Any = None

    def script_types(self) -> Any:
        """The split BTF of the script's struct declarations (None without any)."""
        if self._script_types is None and self.tree.structs:
            from pybpf.btf import kernel_btf
            from pybpf.lang.cdecls import build

            self._script_types = build(self.tree.structs, kernel_btf(), self.tree.enum_types,
                                       self.tree.typedefs)
        return self._script_types

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
                from pybpf.btf.tracefs import TracefsError

                # without a tracefs to look in, the tracepoint is not known to be missing
                what = "cannot look up" if isinstance(e, TracefsError) else "unknown"
                raise LangError(f"{what} tracepoint {probe.target}:{probe.name}: "
                                f"{str(e).splitlines()[0] if str(e) else type(e).__name__}",
                                loc) from None
        return self._formats[key]

    # -- passes ------------------------------------------------------------------------------------
    def expand(self) -> list[tuple[pr.Probe, ast.Probe]]:
        # a probe this kernel cannot resolve is skipped with a warning while others remain
        trees = [tree for tree in self.tree.probes for _ in tree.specs]
        specs = [(spec.text, spec.loc) for tree in self.tree.probes for spec in tree.specs]
        listed = frozenset(i for i, tree in enumerate(trees) if len(tree.specs) > 1)
        out = [(p, trees[i]) for i, p in pr.expand_specs(specs, self.warn, listed)]
        self.probes = out
        # a probe block none of whose attach points exist here still gives its maps their
        # types, as in bpftrace (biosnoop.bt's start probes on a kernel without
        # blk_account_io_start): its body is lowered for discovery only
        kept = {id(tree) for _, tree in out}
        self.standins = []
        for tree in self.tree.probes:
            kind, rest = pr.spec_kind(tree.specs[0].text)
            if id(tree) not in kept and kind in ("kprobe", "kretprobe", "uprobe", "uretprobe"):
                path, _, name = rest.rpartition(":")
                self.standins.append((pr.Probe(kind, target=path, name=name), tree))
        return out

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)
            print(text, file=sys.stderr)

    def lower_all(self) -> list[ir.Function]:
        fns = []
        for probe, tree in self.probes:
            fns.append(ProbeLowerer(self, probe, tree).lower())
        return fns

    def compile(self) -> list[CompiledProbe]:
        with room_to_recurse():
            try:
                return self._compile()
            except RecursionError:
                raise too_deep(self.tree.probes[0].loc if self.tree.probes else None,
                               LangError) from None

    def _compile(self) -> list[CompiledProbe]:
        self.expand()
        for _ in range(2):  # discovery: map and variable types across probes
            self.syms.records.clear()
            self.names.clear()
            # the stand-ins first: what they assign types the maps other probes read
            for probe, tree in self.standins:
                try:
                    ProbeLowerer(self, probe, tree).lower()
                except LangError:
                    pass
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
        # one counter per map it inserts into (updates it refused: full) and for the ring
        # buffer (records it refused: full), reported when the session ends
        self.counters.plan(fns)
        self.counters.create()
        out = []
        for (probe, tree), fn in zip(self.probes, fns, strict=True):
            code = self.generate(fn, tree)
            out.append(CompiledProbe(probe, tree, fn, code.insns, code))
        self.compiled = out
        return out

    def generate(self, fn: ir.Function, tree: ast.Probe) -> pipeline.Compiled:
        try:
            return pipeline.compile(lambda: pipeline.Lowered(fn), target=self.target,
                                    counters=self.counters, where=tree.loc)
        except CompileError as e:
            raise LangError(e.message, e.loc if e.loc.line else tree.loc, e.hint) from None

    def create_maps(self) -> None:
        from pybpf.maps import Hash, RingBuf, StackTrace

        for info in self.used_maps():
            ref = info.ref
            assert ref is not None
            ref.obj = Hash(key=ref.key.size, value=ref.value.size, max_entries=MAX_ENTRIES,
                           name=_map_name(info.name))
        if self._events is not None:
            self._events.obj = RingBuf(1 << 20, name="events")
        if self._stacks is not None:
            self._stacks.obj = StackTrace(max_entries=MAX_ENTRIES, name="stacks")

    def used_maps(self) -> list[MapInfo]:
        return [i for i in self.syms.maps.values() if i.ref is not None]

    def refused(self) -> tuple[dict[str, int], int]:
        """What the kernel refused so far: updates per map (by display name; the map was
        full) and records of the events ring buffer (it was full)."""
        display = {id(i.ref): i.display for i in self.used_maps()}
        maps = {display[id(ref)]: n for ref, n in self.counters.counts()
                if n and id(ref) in display}
        return maps, self.counters.lost()

    def close(self) -> None:
        for info in self.syms.maps.values():
            if info.ref is not None and info.ref.obj is not None:
                info.ref.obj.close()
        for r in (self._events, self._stacks):
            if r is not None and r.obj is not None:
                r.obj.close()
        self.counters.close()


def _map_name(name: str) -> str:
    return ("AT_" + "".join(c if c.isalnum() or c == "_" else "_" for c in name))[:15]
