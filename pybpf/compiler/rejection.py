"""A verifier rejection of compiled code, as the compile error it is: a loop the verifier
gave up on (its complexity limits), positioned at the outermost loop around the place it
stopped; anything else the verifier refuses is a compiler bug."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pybpf import asm
from pybpf.compiler import analysis, ir
from pybpf.compiler.errors import CompileError, InternalCompilerError, Loc, VerifierLimitError

if TYPE_CHECKING:
    from pybpf.compiler.pipeline import Compiled

P = TypeVar("P")

# the verifier's complexity limits (kernel/bpf/verifier.c), as its log words them
_VERIFIER_LIMITS = ("BPF program is too large", "jumps is too complex",
                    "too many states")


def verifier_rejection(e: Any, insns: list[asm.Instruction],
                    fn: ir.Function | None = None) -> CompileError:
    """The compile error for a verifier rejection: a loop the verifier gave up on (at the
    outermost loop around the instruction it stopped at), else a compiler bug."""
    loc = _insn_loc(e, insns)
    limit = next((m for m in _VERIFIER_LIMITS if m in e.log), None)
    if limit is not None:
        loop = _loop_around(fn, loc) if fn is not None else None
        reason = next((ln.strip() for ln in reversed(e.log.splitlines()) if limit in ln), limit)
        return VerifierLimitError(
            "this loop is too much for the verifier: following every path through every "
            f"iteration exceeded its limits ({reason})", loop.loc if loop else loc,
            "Loop fewer times, take fewer branches inside the loop (each undecided if/else "
            "or conditional expression can double the paths to check), or spread the work "
            "over many events.")
    return InternalCompilerError(str(e), loc, e.log)


def load_retrying(compiled: Compiled, load: Callable[[list[asm.Instruction]], P],
                  replaced: Callable[[Compiled], None]) -> P:
    """`load(compiled.insns)`; when the verifier gives up on a loop (its complexity limits)
    that bpf_loop can run, the code is made again with that loop as a bpf_loop callback
    (`replaced` is told of the new code) and loaded again. A rejection that this cannot
    help is raised as it came (VerifierError)."""
    from pybpf.compiler.codegen import loop_key
    from pybpf.sys import VerifierError

    while True:
        try:
            return load(compiled.insns)
        except VerifierError as e:
            if compiled.regenerate is None or not any(m in e.log for m in _VERIFIER_LIMITS):
                raise
            around = _loops_around(compiled.ir, _insn_loc(e, compiled.insns))
            loops = [loop for loop in around if loop_key(loop) not in compiled.callback_loops]
            if not loops and around:  # in a callback's own code: the loops inside it
                loops = [node for node in analysis.walk(around[-1].body)
                         if isinstance(node, ir.Loop)
                         and loop_key(node) not in compiled.callback_loops]
            if not loops:
                raise
            try:
                again = compiled.regenerate(frozenset({loop_key(loops[0])}))
            except CompileError:
                raise e from None
            compiled = again
            replaced(again)


def _insn_loc(e: Any, insns: list[asm.Instruction]) -> Loc | None:
    """The source position of the instruction the verifier stopped at."""
    if e.insn_index is None:
        return None
    slot = 0
    for insn in insns:
        if slot == e.insn_index:
            return insn.loc
        slot += insn.size
    return None


def _loops_around(fn: ir.Function, loc: Loc | None) -> list[ir.Loop]:
    """The loops whose code includes source position `loc`, outermost first."""
    if loc is None or not getattr(loc, "line", 0):
        return []
    where = (loc.file, loc.line, loc.col)
    return [node for node in analysis.walk(fn.body)
            if isinstance(node, ir.Loop) and any(
                (n.loc.file, n.loc.line, n.loc.col) == where
                for n in analysis.walk(node) if n.loc is not None)]


def _loop_around(fn: ir.Function, loc: Loc | None) -> ir.Loop | None:
    """The outermost loop whose code includes source position `loc` (None if none)."""
    loops = _loops_around(fn, loc)
    return loops[0] if loops else None


__all__ = ["load_retrying", "verifier_rejection"]
