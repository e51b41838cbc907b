"""Tokens of the bpftrace language. Probe specifications (`tracepoint:syscalls:sys_enter_*`,
`uprobe:/bin/bash:readline`) are read as one token where a probe is expected: at the top level,
before the action block or the predicate."""

from __future__ import annotations

from dataclasses import dataclass

from pybpf.lang.errors import LangError, Loc

PUNCT = sorted("""
<<= >>= ++ -- -> += -= *= /= %= &= |= ^= << >> <= >= == != && || . , ; : ? ( ) [ ] { }
< > = + - * / % & | ^ ! ~ @ $
""".split(), key=len, reverse=True)
DIGITS = frozenset("0123456789")
IDENT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "r": "\r", "0": "\0", "'": "'",
           "e": "\x1b", "a": "\a"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "probe", "ident", "int", "str", "map", "var", "punct", "eof"
    text: str
    loc: Loc
    value: object = None


class Lexer:
    def __init__(self, src: str, file: str = "stdin") -> None:
        self.src, self.file = src, file
        self.lines = src.split("\n")
        self.pos = 0
        self.line_starts = [0]
        for i, ch in enumerate(src):
            if ch == "\n":
                self.line_starts.append(i + 1)

    def loc(self, pos: int) -> Loc:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        text = self.lines[lo] if lo < len(self.lines) else ""
        return Loc(self.file, lo + 1, pos - self.line_starts[lo] + 1, text)

    def error(self, msg: str, pos: int) -> LangError:
        return LangError(msg, self.loc(pos))

    # -- whitespace and comments ---------------------------------------------------------------
    def skip(self) -> None:
        s = self.src
        while self.pos < len(s):
            ch = s[self.pos]
            if ch in " \t\r\n":
                self.pos += 1
            elif s.startswith("//", self.pos):
                end = s.find("\n", self.pos)
                self.pos = len(s) if end < 0 else end
            elif s.startswith("/*", self.pos):
                end = s.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated comment", self.pos)
                self.pos = end + 2
            elif ch == "#" and self._at_line_start():  # shebang, #include, #define
                end = s.find("\n", self.pos)
                self.pos = len(s) if end < 0 else end
            else:
                return

    def _at_line_start(self) -> bool:
        i = self.pos - 1
        while i >= 0 and self.src[i] in " \t":
            i -= 1
        return i < 0 or self.src[i] == "\n"

    def peek_char(self) -> str:
        self.skip()
        return self.src[self.pos] if self.pos < len(self.src) else ""

    # -- tokens ----------------------------------------------------------------------------------
    def probe(self) -> Token:
        """One probe specification: everything up to whitespace, ',' or '{' (and '/' except
        inside a path after ':/')."""
        self.skip()
        s, start = self.src, self.pos
        in_path = False
        while self.pos < len(s):
            ch = s[self.pos]
            if ch in " \t\r\n,{}":
                break
            if ch == "/":
                if self.pos > start and s[self.pos - 1] == ":":
                    in_path = True
                elif not in_path:
                    break
            if ch == ":" and in_path:
                in_path = False
            self.pos += 1
        if self.pos == start:
            raise self.error("syntax error: expected a probe", start)
        return Token("probe", s[start:self.pos], self.loc(start))

    def next(self) -> Token:
        self.skip()
        s, start = self.src, self.pos
        if start >= len(s):
            return Token("eof", "", self.loc(start))
        ch = s[start]
        if ch in IDENT and ch not in DIGITS:
            self.pos = self._ident_end(start)
            return Token("ident", s[start:self.pos], self.loc(start))
        if ch in DIGITS:
            return self._number(start)
        if ch == '"':
            return self._string(start)
        if ch == "'":
            return self._char(start)
        if ch in "@$":
            end = self._ident_end(start + 1)
            if ch == "$" and start + 1 < len(s) and s[start + 1] in DIGITS:
                end = start + 1
                while end < len(s) and s[end] in DIGITS:
                    end += 1
                self.pos = end
                return Token("param", s[start:end], self.loc(start), int(s[start + 1:end]))
            if ch == "$" and end == start + 1:
                raise self.error("syntax error: '$' must start a variable name ($x)", start)
            self.pos = end
            return Token("map" if ch == "@" else "var", s[start:end], self.loc(start),
                         s[start + 1:end])
        for p in PUNCT:
            if s.startswith(p, start):
                self.pos = start + len(p)
                return Token("punct", p, self.loc(start))
        raise self.error(f"syntax error: unexpected character {ch!r}", start)

    def _ident_end(self, i: int) -> int:
        s = self.src
        while i < len(s) and s[i] in IDENT:
            i += 1
        return i

    def _number(self, start: int) -> Token:
        s = self.src
        i = start
        if s.startswith(("0x", "0X"), start):
            i += 2
            while i < len(s) and (s[i] in "0123456789abcdefABCDEF" or s[i] == "_"):
                i += 1
            digits, base = s[start + 2:i], 16
        else:
            while i < len(s) and (s[i] in DIGITS or s[i] == "_"):
                i += 1
            digits, base = s[start:i], 10
            if i < len(s) and s[i] in "eE" and i + 1 < len(s) and s[i + 1] in DIGITS:
                j = i + 1
                while j < len(s) and s[j] in DIGITS:
                    j += 1
                self.pos = j
                return Token("int", s[start:j], self.loc(start),
                             int(digits.replace("_", "")) * 10 ** int(s[i + 1:j]))
        # integer suffixes and duration units (bpftrace accepts 1_000, 10ns, 5us, 2ms, 1s)
        j = i
        while j < len(s) and s[j] in IDENT and s[j] not in DIGITS:
            j += 1
        suffix = s[i:j]
        mult = {"": 1, "ns": 1, "us": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
                "h": 3600 * 10**9, "d": 86400 * 10**9, "u": 1, "l": 1, "ul": 1, "ll": 1,
                "ull": 1, "U": 1, "L": 1, "UL": 1, "ULL": 1, "LL": 1}.get(suffix)
        if mult is None or not digits.replace("_", ""):
            raise self.error(f"syntax error: invalid number {s[start:j]!r}", start)
        self.pos = j
        return Token("int", s[start:j], self.loc(start), int(digits.replace("_", ""), base) * mult)

    def _string(self, start: int) -> Token:
        s = self.src
        i = start + 1
        out: list[str] = []
        while True:
            if i >= len(s) or s[i] == "\n":
                raise self.error("syntax error: unterminated string", start)
            ch = s[i]
            if ch == '"':
                break
            if ch == "\\":
                if i + 1 >= len(s):
                    raise self.error("syntax error: unterminated string", start)
                e = s[i + 1]
                if e in ESCAPES:
                    out.append(ESCAPES[e])
                    i += 2
                    continue
                if e == "x":
                    j = i + 2
                    while j < len(s) and j < i + 4 and s[j] in "0123456789abcdefABCDEF":
                        j += 1
                    if j == i + 2:
                        raise self.error("syntax error: invalid escape \\x", i)
                    out.append(chr(int(s[i + 2:j], 16)))
                    i = j
                    continue
                if e in "01234567":
                    j = i + 1
                    while j < len(s) and j < i + 4 and s[j] in "01234567":
                        j += 1
                    out.append(chr(int(s[i + 1:j], 8)))
                    i = j
                    continue
                raise self.error(f"syntax error: invalid escape sequence \\{e}", i)
            out.append(ch)
            i += 1
        self.pos = i + 1
        return Token("str", s[start:self.pos], self.loc(start), "".join(out))

    def _char(self, start: int) -> Token:
        s = self.src
        if start + 2 < len(s) and s[start + 1] != "\\" and s[start + 2] == "'":
            self.pos = start + 3
            return Token("int", s[start:self.pos], self.loc(start), ord(s[start + 1]))
        if start + 3 < len(s) and s[start + 1] == "\\" and s[start + 3] == "'" \
                and s[start + 2] in ESCAPES:
            self.pos = start + 4
            return Token("int", s[start:self.pos], self.loc(start), ord(ESCAPES[s[start + 2]]))
        raise self.error("syntax error: invalid character literal", start)
