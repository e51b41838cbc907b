"""Recursive-descent parser for the bpftrace language (C-like expression precedence)."""

from __future__ import annotations

import re
from typing import Any

from pybpf.lang import ast
from pybpf.lang.errors import LangError
from pybpf.lang.lexer import Lexer, Token

ASSIGN_OPS = ("=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=")
BINARY = [  # lowest to highest precedence
    ("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="),
    ("<<", ">>"), ("+", "-"), ("*", "/", "%"),
]
PRECEDENCE = {op: level for level, ops in enumerate(BINARY) for op in ops}
# deeper than any real program; the later passes recurse about as deep as the source nests
MAX_NESTING = 1000
INT_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
             "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "int", "unsigned",
             "char", "long", "short", "bool"}


class Parser:
    def __init__(self, src: str, file: str = "stdin") -> None:
        self.lx = Lexer(src, file)
        self.src = src
        self.tok: Token = Token("eof", "", self.lx.loc(0))
        self.no_div = 0  # inside a predicate: '/' at the top level ends it
        self.depth = 0  # blocks and expressions being parsed inside each other
        # typedef NAME -> (its type's words, pointer depth), as declared so far
        self.typedefs: dict[str, tuple[tuple[str, ...], int]] = {}

    # -- token plumbing --------------------------------------------------------------------------
    def advance(self) -> Token:
        t = self.tok
        self.tok = self.lx.next()
        return t

    def at(self, text: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == text

    def at_ident(self, name: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text == name

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.advance()
            return True
        return False

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.unexpected(f"expected '{text}'")
        return self.advance()

    def unexpected(self, want: str = "") -> LangError:
        t = self.tok
        what = "end of input" if t.kind == "eof" else repr(t.text)
        return LangError(f"syntax error: unexpected {what}" + (f", {want}" if want else ""),
                         t.loc)

    # -- program ---------------------------------------------------------------------------------
    def program(self) -> ast.Program:
        probes: list[ast.Probe] = []
        structs: list[Any] = []
        enums: dict[str, int] = {}
        self.enum_types: set[str] = set()
        while self.lx.peek_char():
            if self._typedef_ahead():
                self.typedef_decl()
                continue
            if self._enum_ahead():
                self.enum_decl(enums)
                continue
            if self._struct_ahead():
                structs.extend(self.struct_decls())
                continue
            probes.append(self.probe())
        if not probes:
            raise LangError("syntax error: no probes in the program", self.lx.loc(0))
        return ast.Program(probes, source=self.src, structs=structs, enums=enums,
                           enum_types=self.enum_types, typedefs=self.typedefs,
                           loc=probes[0].loc)

    _DECL = re.compile(r"(struct|union)\s+[A-Za-z_]\w*\s*\{")
    _ENUM = re.compile(r"enum(\s+[A-Za-z_]\w*)?\s*\{")
    _TYPEDEF = re.compile(r"typedef\s")

    def _typedef_ahead(self) -> bool:
        self.lx.skip()
        return self._TYPEDEF.match(self.lx.src, self.lx.pos) is not None

    def typedef_decl(self) -> None:
        """typedef TYPE WORDS [*...] NAME; : NAME stands for the type in struct members and
        casts (`typedef struct task_struct task_t;`, `typedef unsigned int id_t;`)."""
        self.tok = self.lx.next()
        self.advance()  # typedef
        words: list[str] = []
        while self.tok.kind == "ident":
            words.append(self.advance().text)
        stars = 0
        while self.accept("*"):
            stars += 1
        if stars:
            if self.tok.kind != "ident":
                raise self.unexpected("expected the typedef's name")
            name = self.advance()
        elif len(words) >= 2:
            name = Token("ident", words.pop(), self.tok.loc)
        else:
            raise self.unexpected("expected a type and a name")
        if name.text in INT_TYPES or name.text in ("struct", "union", "enum", "signed"):
            raise LangError(f"typedef needs a name: {name.text!r} is a type word "
                            "(typedef TYPE NAME;)", name.loc)
        if words and words[0] in self.typedefs and len(words) == 1:
            base, more = self.typedefs[words[0]]  # a typedef of a typedef
            words, stars = list(base), stars + more
        self.typedefs[name.text] = (tuple(words), stars)
        if not self.at(";"):
            raise self.unexpected("expected ';'")
        # ';' is the current token, lexed: what follows is read in its own mode

    def _enum_ahead(self) -> bool:
        self.lx.skip()
        return self._ENUM.match(self.lx.src, self.lx.pos) is not None

    def enum_decl(self, enums: dict[str, int]) -> None:
        """enum [NAME] { A [= VALUE], B, ... } [;]: each enumerator an integer constant of
        the script, one more than the one before unless given (as in C)."""
        self.tok = self.lx.next()
        self.advance()  # enum
        if self.tok.kind == "ident":
            self.enum_types.add(self.advance().text)
        self.expect("{")
        value = 0
        while not self.at("}"):
            name = self.tok
            if name.kind != "ident":
                raise self.unexpected("expected an enumerator name")
            self.advance()
            if self.accept("="):
                value = self.enum_value(enums)
            if name.text in enums:
                raise LangError(f"enumerator {name.text!r} is declared twice", name.loc)
            enums[name.text] = value
            value += 1
            if not self.accept(","):
                break
        if not self.at("}"):
            raise self.unexpected("expected ',' or '}'")
        # '}' is the current token, lexed: what follows is a probe, read in its own mode
        if self.lx.peek_char() == ";":
            self.lx.pos += 1

    def enum_value(self, enums: dict[str, int]) -> int:
        """An enumerator's value: an integer, -integer, or an enumerator declared before."""
        negative = self.accept("-")
        t = self.tok
        if t.kind == "int" and isinstance(t.value, int):
            self.advance()
            return -t.value if negative else t.value
        if t.kind == "ident" and t.text in enums:
            self.advance()
            return -enums[t.text] if negative else enums[t.text]
        raise self.unexpected("expected an integer value")

    def _struct_ahead(self) -> bool:
        """`struct NAME {` or `union NAME {` where a probe could start: a declaration."""
        self.lx.skip()
        return self._DECL.match(self.lx.src, self.lx.pos) is not None

    def struct_decls(self) -> list[Any]:
        """struct NAME { TYPE [*]NAME[[N]]..., ...; ... } [;] (cdecls lays it out), after the
        declarations of the anonymous structs and unions its members have as types."""
        from pybpf.lang.cdecls import StructDecl

        self.tok = self.lx.next()
        kind = self.advance()
        name = self.advance()
        decl = StructDecl(kind.text, name.text, loc=kind.loc)
        nested: list[Any] = []
        self.expect("{")
        self._members(decl, nested)
        # '}' is the current token, lexed: what follows is a probe, read in its own mode
        if self.lx.peek_char() == ";":
            self.lx.pos += 1
        return [*nested, decl]

    def _members(self, decl: Any, nested: list[Any]) -> None:
        """The members of `decl` up to its '}' (left as the current token); an anonymous
        `struct { ... } name;` member's type is declared into `nested`, named after its
        place."""
        from pybpf.lang.cdecls import MemberDecl, StructDecl

        while not self.at("}"):
            words: list[str] = []
            while self.tok.kind == "ident":
                words.append(self.advance().text)
                if words[-1] in ("struct", "union", "enum") and self.tok.kind == "ident":
                    words.append(self.advance().text)
            if words in (["struct"], ["union"]) and self.at("{"):
                inner = StructDecl(words[0], f"{decl.name}::(anonymous {len(nested) + 1})",
                                   loc=self.tok.loc)
                self.advance()
                self.depth += 1
                try:
                    if self.depth > MAX_NESTING:
                        raise self.too_deep()
                    self._members(inner, nested)
                finally:
                    self.depth -= 1
                self.advance()  # its '}'
                if self.at(";"):
                    raise LangError(f"an anonymous {words[0]} member needs a name here "
                                    f"(`{words[0]} {{ ... }} name;`)", self.tok.loc)
                nested.append(inner)
                words = [words[0], inner.name]
            if not words:
                raise self.unexpected("expected a member type")
            while True:
                stars = 0
                while self.accept("*"):
                    stars += 1
                if self.tok.kind != "ident":
                    # the last word was the member's name: `int x;`
                    if stars or len(words) < 2:
                        raise self.unexpected("expected a member name")
                    mname = Token("ident", words.pop(), self.tok.loc)
                else:
                    mname = self.advance()
                dims: list[int] = []
                while self.accept("["):
                    n = self.tok
                    if n.kind != "int" or not isinstance(n.value, int) or n.value <= 0:
                        raise self.unexpected("expected an array length")
                    self.advance()
                    dims.append(n.value)
                    self.expect("]")
                if self.at(":"):
                    raise LangError("bitfields in struct declarations are not supported: "
                                    "declare the whole integer that holds them", self.tok.loc)
                decl.members.append(MemberDecl(tuple(words), stars, mname.text, tuple(dims),
                                               mname.loc))
                if not self.accept(","):
                    break
            if not self.at("}"):  # as clang (and bpftrace), the last member's ';' may go
                self.expect(";")

    def probe(self) -> ast.Probe:
        specs = [self.spec()]
        while self.lx.peek_char() == ",":
            self.lx.pos += 1
            specs.append(self.spec())
        pred = None
        self.tok = self.lx.next()
        if self.at("/"):
            self.advance()
            self.no_div += 1
            pred = self.expr()
            self.no_div -= 1
            self.expect("/")
        if not self.at("{"):
            raise self.unexpected("expected '{' to start the action block")
        body = self.block(top=True)
        return ast.Probe(specs, pred, body, loc=specs[0].loc)

    def spec(self) -> ast.ProbeSpec:
        if self.lx.peek_char() in ("{", "/", ""):
            pos = self.lx.pos
            raise LangError("syntax error: expected a probe", self.lx.loc(pos))
        t = self.lx.probe()
        return ast.ProbeSpec(t.text, loc=t.loc)

    def block(self, top: bool = False) -> list[ast.Stmt]:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise self.too_deep()
            return self._block(top)
        finally:
            self.depth -= 1

    def _block(self, top: bool = False) -> list[ast.Stmt]:
        self.expect("{")
        stmts: list[ast.Stmt] = []
        while not self.at("}"):
            if self.tok.kind == "eof":
                raise self.unexpected("expected '}'")
            if self.accept(";"):
                continue
            s = self.statement()
            stmts.append(s)
            if self.at("}"):
                break
            if isinstance(s, ast.If | ast.Unroll | ast.While):
                continue
            self.expect(";")
        if top:
            # the lexer must not read past the block: the next probe is lexed as a probe
            if not self.at("}"):
                raise self.unexpected("expected '}'")
        else:
            self.advance()
        return stmts

    # -- statements ------------------------------------------------------------------------------
    def statement(self) -> ast.Stmt:
        t = self.tok
        if t.kind == "ident":
            if t.text == "if":
                return self.if_stmt()
            if t.text == "unroll":
                self.advance()
                self.expect("(")
                count = self.expr()
                self.expect(")")
                return ast.Unroll(count, self.block(), loc=t.loc)
            if t.text == "while":
                self.advance()
                self.expect("(")
                cond = self.expr()
                self.expect(")")
                return ast.While(cond, self.block(), loc=t.loc)
            if t.text in ("break", "continue", "return"):
                self.advance()
                return ast.Jump(t.text, loc=t.loc)
        if self.at("{"):
            raise self.unexpected("a block needs if, unroll or while before it")
        e = self.expr()
        if self.tok.kind == "punct" and self.tok.text in ASSIGN_OPS:
            op = self.advance()
            if not isinstance(e, ast.Map | ast.Var):
                raise LangError("syntax error: only maps (@x) and variables ($x) can be "
                                "assigned to", op.loc)
            value = self.expr()
            return ast.Assign(e, op.text, value, loc=t.loc)
        return ast.ExprStmt(e, loc=t.loc)

    def if_stmt(self) -> ast.If:
        t = self.advance()
        self.expect("(")
        cond = self.expr()
        self.expect(")")
        then = self.block()
        other: list[ast.Stmt] = []
        if self.at_ident("else"):
            self.advance()
            other = [self.if_stmt()] if self.at_ident("if") else self.block()
        return ast.If(cond, then, other, loc=t.loc)

    # -- expressions -----------------------------------------------------------------------------
    def expr(self) -> ast.Expr:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise self.too_deep()
            return self._expr()
        finally:
            self.depth -= 1

    def too_deep(self) -> LangError:
        return LangError(f"syntax error: blocks and expressions nested more than {MAX_NESTING} "
                         "levels deep", self.tok.loc, "Split the program into several "
                         "statements.")

    def _expr(self) -> ast.Expr:
        cond = self.binary(0)
        if self.at("?"):
            q = self.advance()
            then = self.expr()
            self.expect(":")
            other = self.expr()
            return ast.Ternary(cond, then, other, loc=q.loc)
        return cond

    def binary(self, level: int) -> ast.Expr:
        """Operators of precedence `level` and higher (precedence climbing: one call per
        operand, not one per level, so that nesting costs little recursion)."""
        left = self.unary()
        while self.tok.kind == "punct":
            prec = PRECEDENCE.get(self.tok.text)
            if prec is None or prec < level or (self.tok.text == "/" and self.no_div):
                break
            op = self.advance()
            right = self.binary(prec + 1)
            left = ast.Binary(op.text, left, right, loc=op.loc)
        return left

    def unary(self) -> ast.Expr:
        t = self.tok
        if t.kind == "punct" and t.text in ("-", "!", "~", "*", "&", "+"):
            self.advance()
            operand = self.unary()
            if t.text == "-" and isinstance(operand, ast.Int):
                return ast.Int(-operand.value, loc=t.loc)
            return ast.Unary(t.text, operand, loc=t.loc)
        if t.kind == "punct" and t.text in ("++", "--"):
            self.advance()
            target = self.unary()
            self._check_lvalue(target, t)
            return ast.IncDec(t.text, target, True, loc=t.loc)
        if self.at("(") and self._cast_ahead():
            self.advance()
            name = self._type_name()
            self.expect(")")
            return ast.Cast(name, self.unary(), loc=t.loc)
        return self.postfix(self.primary())

    def _check_lvalue(self, e: ast.Expr, t: Token) -> None:
        if not isinstance(e, ast.Map | ast.Var):
            raise LangError(f"syntax error: {t.text} needs a map or a variable", t.loc)

    def _cast_ahead(self) -> bool:
        """'(' followed by a type name and ')': a cast."""
        save_pos, save_tok = self.lx.pos, self.tok
        try:
            self.advance()
            if self.tok.kind != "ident":
                return False
            if self.tok.text in ("struct", "union"):
                return True
            if self.tok.text not in INT_TYPES and self.tok.text not in self.typedefs:
                return False
            self.advance()
            while self.at("*"):
                self.advance()
            return self.at(")")
        except LangError:
            return False
        finally:
            self.lx.pos, self.tok = save_pos, save_tok

    def _type_name(self) -> str:
        if self.tok.text in self.typedefs:
            name = self._typedef_type(self.advance())
            while self.at("*"):
                self.advance()
                name += " *" if not name.endswith("*") else "*"
            return name
        parts = [self.advance().text]
        if parts[0] in ("struct", "union"):
            if self.tok.kind != "ident":
                raise self.unexpected(f"expected a {parts[0]} name")
            parts.append(self.advance().text)
        while self.tok.kind == "ident" and self.tok.text in INT_TYPES:
            parts.append(self.advance().text)
        name = " ".join(parts)
        while self.at("*"):
            self.advance()
            name += " *" if not name.endswith("*") else "*"
        return name

    def _typedef_type(self, t: Token) -> str:
        """A typedef's type as a cast names it: "struct X *", "uint32"."""
        from pybpf.lang.cdecls import c_int

        words, stars = self.typedefs[t.text]
        if len(words) == 2 and words[0] in ("struct", "union"):
            name = " ".join(words)
        elif len(words) == 1 and words[0] in INT_TYPES:
            name = words[0]
        else:
            known = c_int(tuple(words))
            if known is None:
                raise LangError(f"typedef {t.text!r} stands for {' '.join(words)!r}, which a "
                                "cast cannot name (integers, structs and pointers can)", t.loc)
            size, signed = known
            name = f"{'' if signed else 'u'}int{size * 8}"
        return name + (" " + "*" * stars if stars else "")

    def primary(self) -> ast.Expr:
        t = self.tok
        if t.kind == "int":
            self.advance()
            assert isinstance(t.value, int)
            return ast.Int(t.value, loc=t.loc)
        if t.kind == "str":
            self.advance()
            return ast.Str(str(t.value), loc=t.loc)
        if t.kind == "param":
            self.advance()
            assert isinstance(t.value, int)
            return ast.Param(t.value, loc=t.loc)
        if t.kind == "var":
            self.advance()
            return ast.Var(str(t.value), loc=t.loc)
        if t.kind == "map":
            self.advance()
            keys: list[ast.Expr] = []
            if self.at("["):
                self.advance()
                keys = self.args("]")
                if not keys:
                    raise LangError("syntax error: empty map key []", t.loc)
            return ast.Map(str(t.value), keys, loc=t.loc)
        if t.kind == "ident":
            self.advance()
            if self.at("("):
                self.advance()
                if t.text == "sizeof" and self.tok.kind == "ident" and \
                        (self.tok.text in ("struct", "union") or  # sizeof(struct task_struct)
                         self.tok.text in self.typedefs):  # sizeof(a script's typedef)
                    at = self.tok.loc
                    name = self._type_name()
                    self.expect(")")
                    return ast.Call(t.text, [ast.Ident(name, loc=at)], loc=t.loc)
                return ast.Call(t.text, self.args(")"), loc=t.loc)
            return ast.Ident(t.text, loc=t.loc)
        if self.at("("):
            self.advance()
            self.no_div, saved = 0, self.no_div
            first = self.expr()
            if self.at(","):
                items = [first]
                while self.accept(","):
                    if self.at(")"):
                        break
                    items.append(self.expr())
                self.expect(")")
                self.no_div = saved
                return ast.Tuple(items, loc=t.loc)
            self.expect(")")
            self.no_div = saved
            return first
        raise self.unexpected()

    def args(self, close: str) -> list[ast.Expr]:
        saved, self.no_div = self.no_div, 0
        out: list[ast.Expr] = []
        if not self.accept(close):
            out.append(self.expr())
            while self.accept(","):
                out.append(self.expr())
            self.expect(close)
        self.no_div = saved
        return out

    def postfix(self, e: ast.Expr) -> ast.Expr:
        while True:
            t = self.tok
            if self.at(".") or self.at("->"):
                self.advance()
                if self.tok.kind not in ("ident", "int"):
                    raise self.unexpected("expected a field name")
                name = self.advance().text
                e = ast.Field(e, name, t.text == "->", loc=t.loc)
            elif self.at("["):
                self.advance()
                saved, self.no_div = self.no_div, 0
                idx = self.expr()
                self.no_div = saved
                self.expect("]")
                e = ast.Index(e, idx, loc=t.loc)
            elif t.kind == "punct" and t.text in ("++", "--"):
                self._check_lvalue(e, t)
                self.advance()
                e = ast.IncDec(t.text, e, False, loc=t.loc)
            else:
                return e


def parse(src: str, file: str = "stdin") -> ast.Program:
    """Parse a bpftrace program; LangError (with position) on a syntax error. Preprocessor
    lines (#include, #define, #ifdef) are done first (preprocess.py)."""
    from pybpf.lang.preprocess import preprocess

    return Parser(preprocess(src, file).source, file).program()
