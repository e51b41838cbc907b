"""Split assembly text into statements: strip comments, pasted prefixes and labels.

Accepts what people paste: verifier-log and ``bpftool prog dump xlated`` lines
(``12: (b7) r0 = 0  ; R0_w=0``), ``llvm-objdump -d`` lines
(``      0:\\tb7 00 00 00 2a 00 00 00\\tr0 = 0x2a``) and symbol headers
(``0000000000000000 <func>:``), ``llvm-mc`` output (``# encoding: [...]``), and plain
hand-written text with ``;``, ``#`` and ``//`` comments and ``name:`` labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

IDENT = r"[A-Za-z_.$][\w.$]*"

# "12: (b7) " and, in a level-2 verifier log's liveness listing, "12: .12....... (b7) "
_KERNEL_PREFIX = re.compile(r"\s*\d+:\s*(?:[.0-9]{10,12}\s+)?\([0-9a-fA-F]{2}\)\s*")
_HEX8 = r"(?:[0-9a-fA-F]{2} ){7}[0-9a-fA-F]{2}"
# llvm-objdump prints 8 bytes a line, or (LLVM 14) all 16 bytes of a ld_imm64 on one line
_OBJDUMP_PREFIX = re.compile(r"\s*[0-9a-fA-F]+:\s+" + _HEX8 + "(?: " + _HEX8 + r")?(?=\s|$)\s*")
_OBJDUMP_SYMBOL = re.compile(r"\s*[0-9a-fA-F]+\s+<(" + IDENT + r")>:\s*$")
_LABEL = re.compile(r"\s*(" + IDENT + r")\s*:(?!:)")
_COMMENT = re.compile(r";|//|(?:^|(?<=\s))#")
# lines of a pasted verifier log or tool output that are not instructions
_NOISE = re.compile(
    r"\s*(?:"
    r"\S+:\s+file format\b|Disassembly of section\b|"
    r"(?:\d+:\s*)?(?:R\d+|fp-?\d+)\w*=|"
    r"from \d+ to \d+:|processed \d+ insns|verification time|stack depth|"
    r"func#\d+|Func#\d+|Validating |Live regs|mark_precise|last_idx|regs=|\(\d+\) |"
    r"caller:|callee:|(?:\d+:\s*)?frame\d+:|"
    r"\d+:\s*$|\.\.\.\s*$"
    r")"
)
_IGNORED_DIRECTIVES = frozenset(
    {".text", ".section", ".globl", ".global", ".p2align", ".align", ".type", ".size",
     ".file", ".addrsig", ".weak", ".local"}
)


@dataclass(frozen=True, slots=True)
class Statement:
    """One piece of a line: a label definition or an instruction's text."""

    kind: str  # "label" | "insn"
    text: str  # label name, or the instruction text (stripped)
    line: int  # 1-based
    col: int  # 1-based column of text in the original line
    source: str  # the original line


def _strip_comment(body: str) -> str:
    m = _COMMENT.search(body)
    return body[: m.start()] if m else body


def split_statements(text: str) -> Iterator[Statement]:
    """Yield labels and instruction texts in order."""
    for lineno, source in enumerate(text.splitlines(), start=1):
        yield from _split_line(lineno, source.replace("\t", " "))


def _split_line(lineno: int, line: str) -> Iterator[Statement]:
    source = line
    if _NOISE.match(line):
        return
    m = _OBJDUMP_SYMBOL.match(line)
    if m:
        yield Statement("label", m.group(1), lineno, m.start(1) + 1, source)
        return
    pos = 0
    for prefix in (_OBJDUMP_PREFIX, _KERNEL_PREFIX):
        m = prefix.match(line)
        if m:
            pos = m.end()
            break
    if m and m.re is _OBJDUMP_PREFIX and line[pos:].strip() == "<unknown>":
        # llvm-objdump could not decode it: take the bytes it printed
        hexes = line[: m.end()].split(":", 1)[1].split()
        yield Statement("insn", ".raw " + " ".join(hexes), lineno, pos + 1, source)
        return
    body = _strip_comment(line[pos:])
    while True:
        m = _LABEL.match(body)
        if not m:
            break
        yield Statement("label", m.group(1), lineno, pos + m.start(1) + 1, source)
        pos += m.end()
        body = body[m.end():]
    stripped = body.strip()
    if not stripped:
        return
    col = pos + (len(body) - len(body.lstrip())) + 1
    if stripped.startswith(".") and stripped.split()[0] in _IGNORED_DIRECTIVES:
        return
    yield Statement("insn", stripped, lineno, col, source)
