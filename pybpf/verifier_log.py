"""Turning the kernel verifier's log into one readable sentence: what failed, at which
instruction, and what that instruction is."""

from __future__ import annotations

import re
from collections.abc import Callable

_INSN_LINE = re.compile(r"^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+;.*)?$")
_NOISE = re.compile(
    r"^(processed \d+ insns|verification time|stack depth|max_states_per_insn|"
    r"Live regs|from \d+ to \d+:|\d+: R\d|\d+:\s*$|func#\d+ @\d+|mark_precise|last_idx|"
    r"regs=|parent |Func#|Validating|\s*$)"
)


def parse(log: str) -> tuple[int | None, str | None, str]:
    """(instruction index, instruction text as the log printed it, reason) of the last error
    in a verifier log."""
    lines = [ln.rstrip() for ln in log.splitlines()]
    insn_index: int | None = None
    insn_text: str | None = None
    last_insn_line = -1
    for i, line in enumerate(lines):
        m = _INSN_LINE.match(line)
        if m:
            insn_index, insn_text, last_insn_line = int(m.group(1)), m.group(3), i
    tail = lines[last_insn_line + 1:] if last_insn_line >= 0 else lines
    reasons = [ln.strip() for ln in tail if ln.strip() and not _NOISE.match(ln)]
    if not reasons:  # errors printed before any instruction (e.g. "unknown opcode")
        reasons = [ln.strip() for ln in lines if ln.strip() and not _NOISE.match(ln)]
    reason = "; ".join(reasons[-3:]) if reasons else "the program was rejected without a reason"
    return insn_index, insn_text, reason


def describe(log: str, name: str, prog_type: str,
             disassemble_at: Callable[[int], str | None] | None = None) -> tuple[str, int | None]:
    """(message, instruction index) for a VerifierError."""
    index, text, reason = parse(log)
    where = ""
    if index is not None:
        shown = (disassemble_at(index) if disassemble_at else None) or text
        where = f" at instruction {index} (`{shown}`)"
    return (f"the kernel verifier rejected {prog_type} program '{name}'{where}: {reason}",
            index)
