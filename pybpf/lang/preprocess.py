"""The preprocessor lines of bpftrace scripts, done without a C preprocessor.

`#include <h>` selects a built-in table of the header's macro constants (uapi_constants.py;
types come from kernel BTF), `#define NAME value` defines a constant, and `#ifdef` /
`#ifndef` / `#else` / `#endif` keep or drop lines, with BPFTRACE_HAVE_BTF defined when the
kernel has BTF (as bpftrace defines it). Directive lines and dropped lines become empty lines
and a constant is padded to its name's width when shorter, so that line:col positions of the
rest stay those of the file."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from pybpf.lang.errors import LangError, Loc
from pybpf.lang.uapi_constants import HEADERS

DIRECTIVE = re.compile(r"[ \t]*#[ \t]*(\w*)(.*)")
INCLUDE = re.compile(r"\s*[<\"]([^>\"]+)[>\"]\s*$")
DEFINE = re.compile(r"\s+([A-Za-z_]\w*)(\(?)(.*)$")
IDENT = re.compile(r"[A-Za-z_]\w*")


@dataclass
class Preprocessed:
    source: str
    constants: dict[str, str] = field(default_factory=dict)  # name -> replacement text
    includes: list[str] = field(default_factory=list)


def have_btf() -> bool:
    return os.path.exists(os.environ.get("PYBPF_BTF") or "/sys/kernel/btf/vmlinux")


def preprocess(src: str, file: str = "stdin") -> Preprocessed:
    if "#" not in src:
        return Preprocessed(src)
    out = Preprocessed("")
    defined = {"BPFTRACE_HAVE_BTF"} if have_btf() else set()
    stack: list[tuple[bool, bool, Loc]] = []  # (this branch kept, else seen, where it opened)
    lines = src.split("\n")
    kept_lines: list[str] = []
    in_comment = False  # inside /* */: a line starting with '#' there is text
    for n, line in enumerate(lines, 1):
        live = all(k for k, _, _ in stack)
        m = None if in_comment else DIRECTIVE.match(line)
        in_comment = _ends_in_comment(line, in_comment)
        if m is None or (n == 1 and line.startswith("#!")):
            kept_lines.append(line if live and m is None else "")
            continue
        loc = Loc(file, n, line.index("#") + 1, line)
        word, rest = m.group(1), m.group(2)
        kept_lines.append("")
        if word in ("ifdef", "ifndef"):
            name = rest.strip()
            if not IDENT.fullmatch(name):
                raise LangError(f"#{word} needs one macro name", loc)
            stack.append(((name in defined or name in out.constants) == (word == "ifdef"),
                          False, loc))
        elif word == "else":
            if not stack or stack[-1][1]:
                raise LangError("#else without #ifdef/#ifndef", loc)
            kept, _, where = stack.pop()
            stack.append((not kept, True, where))
        elif word == "endif":
            if not stack:
                raise LangError("#endif without #ifdef/#ifndef", loc)
            stack.pop()
        elif not live:
            continue
        elif word == "include":
            _include(out, rest, loc)
        elif word == "define":
            _define(out, defined, rest, loc)
        elif word == "undef":
            out.constants.pop(rest.strip(), None)
            defined.discard(rest.strip())
        else:
            raise LangError(f"unsupported preprocessor directive #{word}", loc,
                            "pybpf understands #include, #define NAME VALUE, #undef, #ifdef, "
                            "#ifndef, #else and #endif.")
    if stack:
        raise LangError("#ifdef/#ifndef without #endif", stack[-1][2])
    out.source = _substitute("\n".join(kept_lines), out.constants)
    return out


def _ends_in_comment(line: str, inside: bool) -> bool:
    for m in re.finditer(r'/\*|\*/|//|"(?:\\.|[^"\\])*"', line):
        t = m.group(0)
        if inside:
            inside = t != "*/"
        elif t == "/*":
            inside = True
        elif t == "//":
            break
    return inside


def _include(out: Preprocessed, rest: str, loc: Loc) -> None:
    m = INCLUDE.match(rest)
    if m is None:
        raise LangError("#include is written #include <header.h>", loc)
    header = m.group(1)
    table = HEADERS.get(header)
    if table is None:
        raise LangError(f"#include <{header}>: pybpf has no table for this header", loc,
                        "pybpf reads no header files: types come from the kernel's BTF and "
                        "macro constants from built-in tables of the headers "
                        f"{', '.join(sorted(h for h in HEADERS if HEADERS[h]))}; "
                        "#define the constants the script needs instead.")
    out.includes.append(header)
    for name, value in table.items():
        out.constants.setdefault(name, str(value))


def _define(out: Preprocessed, defined: set[str], rest: str, loc: Loc) -> None:
    m = DEFINE.match(rest)
    if m is None:
        raise LangError("#define is written #define NAME VALUE", loc)
    name, paren, value = m.group(1), m.group(2), m.group(3).strip()
    if paren:
        raise LangError(f"#define {name}(...): macros with arguments are not supported", loc,
                        "Only constants: #define NAME VALUE.")
    value = re.sub(r"/\*.*?\*/|//.*$", "", value).strip()
    defined.add(name)
    if value:
        text = value if re.fullmatch(r"\w+|\"[^\"]*\"", value) else f"({value})"
        out.constants[name] = _substitute(text, out.constants)


def _substitute(src: str, constants: dict[str, str]) -> str:
    """Replace constant names by their values outside strings and comments, not where a name
    is a field (after . or ->), a variable ($x), a map (@x) or part of a probe (a:b)."""
    if not constants:
        return src
    parts: list[str] = []
    i, n = 0, len(src)
    token = re.compile(r'"(?:\\.|[^"\\\n])*"?|//[^\n]*|/\*.*?(?:\*/|\Z)|[A-Za-z_]\w*|.',
                       re.S)
    while i < n:
        m = token.match(src, i)
        assert m is not None
        text = m.group(0)
        j = m.end()
        if text in constants and not _in_name(src, i, j):
            value = constants[text]
            text = value + " " * max(0, len(text) - len(value))
        parts.append(text)
        i = j
    return "".join(parts)


def _in_name(src: str, start: int, end: int) -> bool:
    before = src[start - 1] if start else ""
    if before in ("$", "@", ".", ":", "%") or src[max(0, start - 2):start] == "->":
        return True
    return end < len(src) and src[end] == ":"
