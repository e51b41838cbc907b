"""A verifier rejection of compiled code, as the compile error it is: a loop the verifier
gave up on (its complexity limits), positioned at the outermost loop around the place it
stopped; anything else the verifier refuses is a compiler bug."""

from __future__ import annotations

from typing import Any

from pybpf import asm
from pybpf.compiler import analysis, ir
from pybpf.compiler.errors import CompileError, InternalCompilerError, Loc, VerifierLimitError

# the verifier's complexity limits (kernel/bpf/verifier.c), as its log words them
_VERIFIER_LIMITS = ("BPF program is too large", "jumps is too complex",
                    "too many states")


def verifier_rejection(e: Any, insns: list[asm.Instruction],
                    fn: ir.Function | None = None) -> CompileError:
    """The compile error for a verifier rejection: a loop the verifier gave up on (at the
    outermost loop around the instruction it stopped at), else a compiler bug."""
    loc = None
    if e.insn_index is not None:
        slot = 0
        for insn in insns:
            if slot == e.insn_index:
                loc = insn.loc
                break
            slot += insn.size
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


def _loop_around(fn: ir.Function, loc: Loc | None) -> ir.Loop | None:
    """The outermost loop whose code includes source position `loc` (None if none)."""
    if loc is None or not getattr(loc, "line", 0):
        return None
    where = (loc.file, loc.line, loc.col)
    for node in analysis.walk(fn.body):  # outer loops come first
        if isinstance(node, ir.Loop) and any(
                (n.loc.file, n.loc.line, n.loc.col) == where
                for n in analysis.walk(node.body) if n.loc is not None):
            return node
    return None


__all__ = ["verifier_rejection"]
