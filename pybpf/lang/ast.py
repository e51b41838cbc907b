"""The syntax tree of a bpftrace program. Every node carries its source position."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler.errors import NO_LOC, Loc


@dataclass(eq=False)
class Node:
    loc: Loc = field(default=NO_LOC, kw_only=True)


# -- expressions ---------------------------------------------------------------------------
@dataclass(eq=False)
class Expr(Node):
    pass


@dataclass(eq=False)
class Int(Expr):
    value: int


@dataclass(eq=False)
class Str(Expr):
    value: str


@dataclass(eq=False)
class Ident(Expr):
    """A builtin (pid, comm, args, ...) or another bare name (a type in sizeof, ...)."""

    name: str


@dataclass(eq=False)
class Param(Expr):
    """A positional parameter $1, $2..."""

    index: int


@dataclass(eq=False)
class Var(Expr):
    """A scratch variable $x."""

    name: str


@dataclass(eq=False)
class Map(Expr):
    """@name or @name[k1, k2]."""

    name: str
    keys: list[Expr] = field(default_factory=list)


@dataclass(eq=False)
class Field(Expr):
    """expr.name or expr->name."""

    base: Expr
    name: str
    arrow: bool = False


@dataclass(eq=False)
class Index(Expr):
    base: Expr
    index: Expr


@dataclass(eq=False)
class Call(Expr):
    name: str
    args: list[Expr]


@dataclass(eq=False)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class Unary(Expr):
    op: str  # "-", "!", "~", "*", "&", "+"
    operand: Expr


@dataclass(eq=False)
class IncDec(Expr):
    op: str  # "++" or "--"
    target: Expr
    prefix: bool


@dataclass(eq=False)
class Ternary(Expr):
    cond: Expr
    then: Expr
    other: Expr


@dataclass(eq=False)
class Cast(Expr):
    type_name: str  # "uint32", "int8", "struct task_struct *"...
    operand: Expr


@dataclass(eq=False)
class Tuple(Expr):
    items: list[Expr]


# -- statements ----------------------------------------------------------------------------
@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class ExprStmt(Stmt):
    expr: Expr


@dataclass(eq=False)
class Assign(Stmt):
    target: Expr  # Map or Var
    op: str  # "=", "+=", ...
    value: Expr


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    then: list[Stmt]
    other: list[Stmt]


@dataclass(eq=False)
class Unroll(Stmt):
    count: Expr
    body: list[Stmt]


@dataclass(eq=False)
class While(Stmt):
    cond: Expr
    body: list[Stmt]


@dataclass(eq=False)
class Jump(Stmt):
    kind: str  # "break", "continue", "return"


# -- probes --------------------------------------------------------------------------------
@dataclass(eq=False)
class ProbeSpec(Node):
    text: str


@dataclass(eq=False)
class Probe(Node):
    specs: list[ProbeSpec]
    pred: Expr | None
    body: list[Stmt]


@dataclass(eq=False)
class Program(Node):
    probes: list[Probe]
    source: str = ""
    structs: list[Any] = field(default_factory=list)  # cdecls.StructDecl, in order
    enums: dict[str, int] = field(default_factory=dict)  # the script's enumerators
    enum_types: set[str] = field(default_factory=set)  # the names of its enum types
    # typedef NAME -> (its type's words, pointer depth)
    typedefs: dict[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)
