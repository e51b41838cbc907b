"""The compiler's intermediate representation: a typed tree of expressions and statements.

Front ends (the Python front end in `pyfront`, the one-liner language in `pybpf.lang`) lower
their syntax to these nodes; every name is resolved and every node typed, so the later passes
(`fold`, `codegen`) need no knowledge of the source language. Each node carries the source
position it came from (`loc`), which follows it to the instructions it becomes.

Values of integer type are kept canonical in registers: unsigned values zero-extended, signed
values sign-extended to 64 bits. Aggregates (strings, arrays, structs) live on the stack and
are handled through their storage (`Var`).

The IR is closed: every node either front end builds is defined here, and `codegen` has one
generator for each (`codegen.GENERATORS`; a test checks that none is missing). Nodes in
`LOWERING_ONLY` stand for values a front end must turn into others before code generation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler.errors import NO_LOC, Loc
from pybpf.compiler.irtypes import LIT, IntT, Type

# ---------------------------------------------------------------------------------------
# storage


@dataclass(eq=False)
class Var:
    """A local variable, parameter or compiler temporary: one stack object of `type`."""

    name: str
    type: Type
    loc: Loc = NO_LOC
    slot: int | None = None  # frame offset (negative, from r10), set by codegen
    temp: bool = False  # made by a front end for one value (never a name of the source)

    def __repr__(self) -> str:
        return f"Var({self.name}: {self.type})"


@dataclass(eq=False)
class MapRef:
    """A map used by the program, with the IR types of its keys and values."""

    obj: Any  # the pybpf.maps.Map (None until a front end creates it)
    name: str
    key: Type
    value: Type
    percpu: bool = False
    kind: str = "hash"  # "hash", "array", "ringbuf", "stack_trace", "perf_event_array", ...
    counted: bool = False  # inserts it refuses (it is full) are counted (see accounting)
    # (counter map, byte offset into its one value): updates the map refuses (it is full)
    # add 1 there, so that none fails silently
    failed: tuple[Any, int] | None = None

    @classmethod
    def of(cls, obj: Any, name: str, key: Type, value: Type) -> MapRef:
        """A reference to map `obj` with what its class tells the compiler."""
        return cls(obj, name, key, value, obj.per_cpu, obj.compiler_kind, obj.counts_refusals)


# ---------------------------------------------------------------------------------------
# expressions


@dataclass(eq=False)
class Expr:
    type: Type
    loc: Loc = field(default=NO_LOC, kw_only=True)


@dataclass(eq=False)
class Const(Expr):
    value: int


@dataclass(eq=False)
class Load(Expr):
    """The value of a scalar variable."""

    var: Var


@dataclass(eq=False)
class AddrOf(Expr):
    """The stack address of a variable (plus a constant offset): for helpers and fields."""

    var: Var
    offset: int = 0


@dataclass(eq=False)
class BinOp(Expr):
    """Arithmetic in `type` (already the common type of both operands): add sub mul div mod
    and or xor shl shr."""

    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class UnOp(Expr):
    op: str  # "neg", "invert"
    operand: Expr


@dataclass(eq=False)
class Compare(Expr):
    """eq ne lt le gt ge, compared as `signed` or not. Its own type is LIT (0 or 1)."""

    op: str
    left: Expr
    right: Expr
    signed: bool = False


@dataclass(eq=False)
class Logic(Expr):
    """Short-circuit `and` / `or` of truth values (result 0/1)."""

    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class Not(Expr):
    operand: Expr


@dataclass(eq=False)
class Cond(Expr):
    """`a if cond else b`."""

    cond: Expr
    then: Expr
    other: Expr


@dataclass(eq=False)
class Cast(Expr):
    """Conversion of an integer or pointer to `type` (truncate, zero- or sign-extend)."""

    operand: Expr


@dataclass(eq=False)
class Call(Expr):
    """A helper call; scalar args, result in r0 typed `type`."""

    helper: str
    args: list[Expr]


@dataclass(eq=False)
class CtxLoad(Expr):
    """A direct read of the program context at a constant offset (tracepoint records,
    __sk_buff fields, raw tracepoint args, bpf.function arguments)."""

    offset: int
    size: int


@dataclass(eq=False)
class CtxDataLoc(Expr):
    """The address of a tracepoint's `__data_loc` field data: ctx + (loc & 0xffff), where
    loc is the u32 at `offset` of the record (for str())."""

    offset: int


@dataclass(eq=False)
class CtxPtr(Expr):
    """The context pointer itself (for helpers that take ctx)."""


@dataclass(eq=False)
class CtxArray(Expr):
    """An array field of the context (a tracepoint's `char comm[16]`, raw_syscalls'
    `args[6]`): front ends index it with constants (CtxLoad) or copy it (CtxCopy)."""

    offset: int


@dataclass(eq=False)
class MemLoad(Expr):
    """A direct read through a pointer that the verifier lets us dereference (map values,
    stack) — `ptr` must not be nullable."""

    ptr: Expr
    offset: int
    bit_offset: int = 0
    bit_size: int = 0
    checked: bool = False  # ptr may be 0 (a header view): read 0 then


@dataclass(eq=False)
class LoadIndex(Expr):
    """var[index] of a local array with a run-time index: 0 when out of range."""

    var: Var
    index: Expr


@dataclass(eq=False)
class ProbeRead(Expr):
    """Read a scalar of `type` from a kernel or user address (bpf_probe_read_kernel/user into
    the stack, then load); bitfields are shifted and masked."""

    addr: Expr
    space: str  # "kernel" or "user"
    bit_offset: int = 0
    bit_size: int = 0


@dataclass(eq=False)
class MapGet(Expr):
    """The scalar value stored for `key`, or `default` when absent."""

    map: MapRef
    key: Expr
    default: Expr
    offset: int = 0  # read a field of the value at this offset (struct values)


@dataclass(eq=False)
class MapHas(Expr):
    map: MapRef
    key: Expr


@dataclass(eq=False)
class Agg(Expr):
    """An aggregate value (string, array, struct, tuple key) built into a stack temporary by
    `init` statements that write into `var`; its value is the storage of `var`."""

    var: Var
    init: list[Stmt]
    # builds the same value directly into (var, offset) of another aggregate, saving a copy
    fill: Any = field(default=None, compare=False)
    text: str | None = None  # a string literal's text (compared byte by byte with others)


@dataclass(eq=False)
class MapPtr(Expr):
    """The map itself as a helper argument (a ld_imm64 of its fd)."""

    map: MapRef


@dataclass(eq=False)
class VarRef(Expr):
    """An aggregate-typed variable used as a value (its stack storage), or the part of it
    at `offset` (a tuple member)."""

    var: Var
    offset: int = 0


@dataclass(eq=False)
class Inline(Expr):
    """The result of an inlined call: run `body`, whose returns assign `result` and jump to
    the end, then yield `result`."""

    body: list[Stmt]
    result: Var | None
    token: int = 0  # matches the InlineReturns of this body


# ---------------------------------------------------------------------------------------
# statements


@dataclass(eq=False)
class Stmt:
    loc: Loc = field(default=NO_LOC, kw_only=True)


@dataclass(eq=False)
class Assign(Stmt):
    """var = value (scalar), or copy an aggregate value into var's storage."""

    var: Var
    value: Expr


@dataclass(eq=False)
class Store(Stmt):
    """Write `value` of `type` at `offset` inside aggregate `var` (struct fields, array
    elements at constant indices, key parts); aggregate values are copied."""

    var: Var
    offset: int
    type: Type
    value: Expr


@dataclass(eq=False)
class StoreIndex(Stmt):
    """var[index] = value for a local array, with `index` bounds-checked at run time
    (out-of-range stores are skipped)."""

    var: Var
    index: Expr
    elem: Type
    value: Expr


@dataclass(eq=False)
class Zero(Stmt):
    """Zero `size` bytes of `var` from `offset` (padding of keys, fresh aggregates)."""

    var: Var
    offset: int = 0
    size: int | None = None


@dataclass(eq=False)
class HelperInto(Stmt):
    """A helper that fills stack memory: `helper(args...)` where args may be AddrOf."""

    helper: str
    args: list[Expr]
    result: Var | None = None


@dataclass(eq=False)
class MapUpdate(Stmt):
    map: MapRef
    key: Expr
    value: Expr
    flags: int = 0


@dataclass(eq=False)
class MapAdd(Stmt):
    """map[key] += delta at `offset` of the value: atomic for shared maps, plain for per-CPU;
    inserts `delta` when the key is absent."""

    map: MapRef
    key: Expr
    delta: Expr
    offset: int = 0
    vtype: IntT = field(default_factory=lambda: IntT(64, False))
    insert: bool = True  # False: add only to a value that is there (the key is not inserted)


@dataclass(eq=False)
class MapStoreField(Stmt):
    """map[key].field = value (lookup, insert zeroed value when absent, store the field)."""

    map: MapRef
    key: Expr
    offset: int
    type: Type
    value: Expr


@dataclass(eq=False)
class MapCopy(Stmt):
    """Copy the value stored for `key` into aggregate `var` (zeros when absent)."""

    map: MapRef
    key: Expr
    var: Var


@dataclass(eq=False)
class CtxCopy(Stmt):
    """Copy `size` bytes of the context at `ctx_offset` into var at `offset` (tracepoint char
    arrays)."""

    var: Var
    ctx_offset: int
    size: int
    offset: int = 0


@dataclass(eq=False)
class StackCopy(Stmt):
    """Copy `size` bytes from src+src_offset to dst+dst_offset (stack aggregates)."""

    dst: Var
    dst_offset: int
    src: Var
    src_offset: int
    size: int


@dataclass(eq=False)
class MapDelete(Stmt):
    map: MapRef
    key: Expr


@dataclass(eq=False)
class RingOutput(Stmt):
    """bpf_ringbuf_output(map, &var, sizeof var, 0); a failure (the ring is full) adds 1 to
    the ring's counter of lost records (`map.failed`), so that no event is dropped
    silently."""

    map: MapRef
    var: Var
    result: Var | None = None


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    then: list[Stmt]
    other: list[Stmt]


@dataclass(eq=False)
class Loop(Stmt):
    """for var in range(start, stop, step) with constant bounds (or a bounded `while`: then
    `cond` is tested before each iteration and `var` is a hidden counter)."""

    var: Var
    start: int
    stop: int
    step: int
    body: list[Stmt]
    cond: Expr | None = None


@dataclass(eq=False)
class Break(Stmt):
    pass


@dataclass(eq=False)
class Continue(Stmt):
    pass


@dataclass(eq=False)
class Return(Stmt):
    value: Expr | None


@dataclass(eq=False)
class ExprStmt(Stmt):
    value: Expr


@dataclass(eq=False)
class InlineReturn(Stmt):
    """Inside an inlined body: set the result and leave the inlined call."""

    value: Expr | None
    result: Var | None
    token: int


# ---------------------------------------------------------------------------------------
# packets: header views of XDP / tc programs, bounds-checked against data_end


@dataclass(eq=False)
class PktHeader(Expr):
    """A header view: `prev + offset` (or ctx->data + offset when prev is None), checked so
    that `size` bytes are inside the packet; 0 when they are not or when prev is 0."""

    prev: Expr | None
    offset: Expr
    size: int
    data_off: int
    end_off: int
    min_offset: int = 0  # a variable offset below this is invalid (IPv4 ihl*4 < 20)
    checked: bool = True  # prev may be 0 (False: known non-null on this path)


@dataclass(eq=False)
class PktStore(Stmt):
    """ptr->field = value, skipped when ptr is 0."""

    ptr: Expr
    offset: int
    type: Type
    value: Expr
    checked: bool = True


@dataclass(eq=False)
class PktSwap(Stmt):
    """Exchange `size` bytes at two offsets of a header, skipped when ptr is 0."""

    ptr: Expr
    a: int
    b: int
    size: int
    checked: bool = True


@dataclass(eq=False)
class PktCopy(Stmt):
    """Copy `size` bytes of a header field into var+var_offset (zeros when ptr is 0)."""

    var: Var
    var_offset: int
    ptr: Expr
    offset: int
    size: int


#: nodes that read the program context (the entry saves the context pointer for them)
READS_CTX = (CtxLoad, CtxPtr, CtxCopy, CtxDataLoc, PktHeader)
#: values that exist only during lowering: a front end turns them into other nodes
LOWERING_ONLY = (CtxArray,)


@dataclass(eq=False)
class Function:
    """One program: its statements, variables, maps, and how it ends."""

    name: str
    body: list[Stmt]
    maps: list[MapRef]
    ret: Type
    # "r0": return the value in r0; "ctx:N": store the result at ctx offset N, return 0
    ret_mode: str = "r0"
    default_return: int = 0
    source: str = ""
    file: str = ""


__all__ = [name for name in dir() if not name.startswith("_")] + ["LIT"]
