"""Running a compiled function as plain Python with the compiled program's semantics.

The function's own source runs, rewritten so that arithmetic, comparisons, conversions and
map access follow the same rules as the BPF code: fixed-width integers that wrap, the wider
type wins (unsigned at equal width), untyped literals take the other operand's type, division
truncates toward zero, x // 0 == 0, x % 0 == x, shift amounts are masked to the width, and
a missing map key reads 0. This is the reference side of the differential tests.
"""

from __future__ import annotations

import ast
import functools
from typing import Any

from pybpf.compiler import intrinsics
from pybpf.compiler.irtypes import (
    LIT,
    S64,
    U64,
    ArrayT,
    IntT,
    LitT,
    StructT,
    Type,
    binop_type,
    common,
    from_spec,
    is_tuple,
)
from pybpf.compiler.pyfront.exprs import _BINOPS, _CMP, _CMPOPS, _fold
from pybpf.compiler.pyfront.source import source_of
from pybpf.compiler.recursion import room_to_recurse


class TypedInt:
    """An integer with its fixed-width type (always stored wrapped into that type)."""

    __slots__ = ("t", "v")

    def __init__(self, v: int, t: IntT) -> None:
        self.t, self.v = t, t.wrap(int(v))

    def __index__(self) -> int:
        return self.v

    __int__ = __index__

    def __bool__(self) -> bool:
        return self.v != 0

    def __hash__(self) -> int:
        return hash(self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypedInt | int) and int(other) == self.v  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"{self.t}({self.v})"


def _ncpu() -> int:
    from pybpf.maps import possible_cpus

    return possible_cpus()


def _type_of(x: Any) -> IntT:
    return x.t if isinstance(x, TypedInt) else LIT


def _int(x: Any) -> int:
    if isinstance(x, bool | int | TypedInt):
        return int(x)
    raise TypeError(f"expected an integer, got {type(x).__name__}")


def _make(v: int, t: IntT) -> Any:
    if isinstance(t, LitT):
        return v if -2**63 <= v < 2**64 else S64.wrap(v)
    return TypedInt(v, t)


def bin_op(op: str, a: Any, b: Any) -> Any:
    t = binop_type(op, _type_of(a), _type_of(b))
    x, y = _int(a), _int(b)
    v = _fold(op, x, y, t)
    if v is None:  # an untyped result beyond 64 bits: computed like the 64-bit register
        v = _fold(op, S64.wrap(x), S64.wrap(y), S64)
        assert v is not None
    return _make(v, t)


def un_op(op: str, a: Any) -> Any:
    t = _type_of(a)
    v = -_int(a) if op == "neg" else ~_int(a)
    return _make(v, t)


def cmp_op(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, str | bytes) or isinstance(b, str | bytes):  # C strings, up to a NUL
        return _CMP[op](_c_string(a), _c_string(b))
    t = binop_type("cmp", _type_of(a), _type_of(b))
    x, y = _int(a), _int(b)
    if not isinstance(t, LitT):
        x, y = t.wrap(x), t.wrap(y)
    return _CMP[op](x, y)


def _c_string(v: Any) -> Any:
    return (v.encode() if isinstance(v, str) else v).split(b"\0", 1)[0] \
        if isinstance(v, str | bytes) else v


def convert(v: Any, t: Type | None) -> Any:
    if isinstance(t, IntT) and not isinstance(t, LitT) and isinstance(v, bool | int | TypedInt):
        return TypedInt(int(v), t)
    return v


class TypedArray:
    """A local fixed array: typed elements, out-of-range reads give 0 and stores are
    skipped (as the compiled bounds checks do)."""

    def __init__(self, t: ArrayT) -> None:
        self.t = t
        self.items = [convert(0, t.elem) for _ in range(t.n)]

    def __getitem__(self, i: Any) -> Any:
        i = int(i)
        return self.items[i] if 0 <= i < self.t.n else convert(0, self.t.elem)

    def __setitem__(self, i: Any, v: Any) -> None:
        i = int(i)
        if 0 <= i < self.t.n:
            self.items[i] = convert(v, self.t.elem)

    def __len__(self) -> int:
        return self.t.n

    def __iter__(self) -> Any:  # `for v in xs` (without it, __getitem__ never ends)
        return iter(list(self.items))


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    return int(v) if isinstance(v, TypedInt) else v


class StructFields:
    """Typed field access for a bpf.Struct instance (stores wrap to the field's type)."""

    @staticmethod
    def types(obj: Any) -> dict[str, Type]:
        return {name: from_spec(c) for name, _, c in type(obj)._members_}


def set_field(obj: Any, name: str, value: Any) -> None:
    if hasattr(type(obj), "_members_"):
        t = StructFields.types(obj).get(name)
        value = convert(value, t)
    setattr(obj, name, value)


def typed_struct(cls: Any) -> Any:
    """A constructor of `cls` whose fields hold typed values."""

    def make(*args: Any, **kwargs: Any) -> Any:
        obj = cls(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
        for name, t in StructFields.types(obj).items():
            setattr(obj, name, convert(getattr(obj, name), t))
        return obj

    make.irtype = from_spec(cls)  # type: ignore[attr-defined]
    return make


class _MapStruct:
    """m[k] of a struct-valued map: field reads give 0 when the key is absent; field writes
    insert a zeroed value first (as the compiled code does)."""

    def __init__(self, view: MapView, key: Any) -> None:
        object.__setattr__(self, "_view", view)
        object.__setattr__(self, "_key", key)

    def __getattr__(self, name: str) -> Any:
        value = self._view.m.get(self._key)
        t = self._view.value_t.field(name)
        if t is None:
            raise AttributeError(name)
        if isinstance(t.type, ArrayT) and not t.type.is_str:  # a fixed array: typed items
            items = getattr(value, name) if value is not None else [0] * t.type.n
            return [convert(x, t.type.elem) for x in items]
        if value is None:  # absent: zeros, which a string field reads as ""
            empty = "" if isinstance(t.type, ArrayT) and t.type.is_str else 0
            return convert(empty, t.type)
        return convert(getattr(value, name), t.type)

    def __setattr__(self, name: str, v: Any) -> None:
        m = self._view.m
        value = m.get(self._key)
        if value is None:
            value = m.value_codec.unpack(bytes(m.value_codec.size))
        f = self._view.value_t.field(name)
        setattr(value, name, f.type.wrap(int(v)) if isinstance(f.type, IntT) else _plain(v))
        self._view.store(self._key, value)


class MapView:
    """A map seen from the reference run: typed values, missing keys read 0. Per-CPU maps
    act as seen from CPU 0."""

    def __init__(self, m: Any) -> None:
        from pybpf import maps

        self.m = m
        self.submitted: list[Any] = []
        self.refused = 0
        self.value_t = from_spec(m.value_codec) if m.value_codec.size else U64
        self.percpu = isinstance(m, maps.PerCPUHash | maps.PerCPUArray | maps.LRUPerCPUHash)

    def _key(self, k: Any) -> Any:
        """As the compiled code builds keys: nested tuples (a tuple passed to an inline
        function and used inside a key) are spliced flat."""
        if isinstance(k, tuple):
            flat: list[Any] = []
            for x in k:
                flat.extend(self._key(x) if isinstance(x, tuple) else (_plain(x),))
            return tuple(flat)
        return _plain(k)

    def _read(self, k: Any) -> Any:
        v = self.m.get(self._key(k))
        if v is not None and self.percpu:
            v = v[0]
        return v

    def __getitem__(self, k: Any) -> Any:
        if is_tuple(self.value_t):  # a tuple value reads as a Python tuple (zeros if absent)
            assert isinstance(self.value_t, StructT)
            fields = self.value_t.fields
            got = self._read(k)
            items = got if got is not None else \
                ["" if isinstance(f.type, ArrayT) and f.type.is_str else 0 for f in fields]
            return tuple(convert(v, f.type) for v, f in zip(items, fields, strict=True))
        if isinstance(self.value_t, StructT):
            return _MapStruct(self, self._key(k))
        v = self._read(k)
        if v is None:  # absent: zeros, which a string value reads as ""
            v = "" if isinstance(self.value_t, ArrayT) and self.value_t.is_str else 0
        return convert(v, self.value_t)

    def get(self, k: Any, default: Any = 0) -> Any:
        v = self._read(k)
        return convert(v if v is not None else default, self.value_t)

    def __setitem__(self, k: Any, v: Any) -> None:
        key = self._key(k)
        v = _plain(v)
        if self.percpu:
            old = self.m.get(key) or [0] * _ncpu()
            v = [v, *old[1:]]
        self.store(key, v)

    def store(self, key: Any, value: Any) -> None:
        """Write as the kernel does from a program: a full map refuses a new key (the
        compiled code counts the refusal, `refused_updates()`), no exception."""
        from pybpf.sys import MapFullError

        try:
            self.m[key] = value
        except MapFullError:
            self.refused += 1

    def __delitem__(self, k: Any) -> None:
        self.m.pop(self._key(k), None)

    def __contains__(self, k: Any) -> bool:
        return self._key(k) in self.m

    def submit(self, event: Any) -> int:
        """ring.submit(ev) in the reference run: the event is kept (a ring buffer cannot be
        written from user space); succeeds like the kernel's output into a free ring."""
        self.submitted.append(event)
        return 0

    output = submit


class _Rewrite(ast.NodeTransformer):
    """Route operators, conversions and returns through the helpers above."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if type(node.op) not in _BINOPS:  # in code the compiler drops (a constant condition)
            return node
        return _call("__bin", ast.Constant(_BINOPS[type(node.op)]), node.left, node.right,
                     like=node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.USub):
            return _call("__un", ast.Constant("neg"), node.operand, like=node)
        if isinstance(node.op, ast.Invert):
            return _call("__un", ast.Constant("invert"), node.operand, like=node)
        if isinstance(node.op, ast.UAdd):
            return node.operand
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        parts: list[ast.expr] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) in _CMPOPS:
                parts.append(_call("__cmp", ast.Constant(_CMPOPS[type(op)]), left, right,
                                   like=node))
            else:
                parts.append(ast.Compare(left=left, ops=[op], comparators=[right]))
            left = right
        out: ast.expr = parts[0] if len(parts) == 1 else ast.BoolOp(op=ast.And(), values=parts)
        return ast.copy_location(out, node)

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        """`a if c else b` takes the common type of a and b (as compiled), found by position."""
        self.generic_visit(node)
        return _call("__ifexp", node, ast.Constant(node.lineno), ast.Constant(node.col_offset),
                     like=node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        return _call("bool", node, like=node)

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        self.generic_visit(node)
        target = node.targets[0]
        if isinstance(target, ast.Name):
            node.value = _call("__conv", node.value, ast.Constant(target.id), like=node)
        elif isinstance(target, ast.Tuple | ast.List) and \
                isinstance(node.value, ast.Tuple | ast.List) and \
                len(target.elts) == len(node.value.elts):
            # a, b = x, y: each value converted to its own target's type, all before any store
            node.value.elts = [_call("__conv", v, ast.Constant(t.id), like=v)
                               if isinstance(t, ast.Name) else v
                               for t, v in zip(target.elts, node.value.elts, strict=True)]
        elif isinstance(target, ast.Attribute) and not isinstance(target.value, ast.Subscript):
            return ast.copy_location(ast.Expr(_call(
                "__setfield", _as_value(target.value), ast.Constant(target.attr), node.value,
                like=node)), node)
        return node

    def visit_While(self, node: ast.While) -> ast.AST:
        """`while c: body` runs at most MAX_WHILE_ITERATIONS times, as compiled."""
        self.generic_visit(node)
        from pybpf.compiler.pyfront.lower import MAX_WHILE_ITERATIONS

        test = ast.If(test=ast.UnaryOp(op=ast.Not(), operand=node.test),
                      body=[ast.Break()], orelse=[])
        loop = ast.For(target=ast.Name(id="__while_i", ctx=ast.Store()),
                       iter=_call("range", ast.Constant(MAX_WHILE_ITERATIONS), like=node),
                       body=[test, *node.body], orelse=[])
        return ast.copy_location(loop, node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.target, ast.Name):
            value = node.value if node.value is not None else ast.Constant(0)
            return ast.copy_location(ast.Assign(
                targets=[node.target],
                value=_call("__declare", value, ast.Constant(node.target.id), node.annotation,
                            like=node)), node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        if type(node.op) not in _BINOPS:  # in code the compiler drops (a constant condition)
            return node
        op = ast.Constant(_BINOPS[type(node.op)])
        target = node.target
        if isinstance(target, ast.Name):
            load = ast.Name(id=target.id, ctx=ast.Load())
            value = _call("__conv", _call("__bin", op, load, node.value, like=node),
                          ast.Constant(target.id), like=node)
            return ast.copy_location(ast.Assign(targets=[target], value=value), node)
        if isinstance(target, ast.Subscript):
            return ast.copy_location(ast.Expr(_call("__aug_item", target.value, target.slice,
                                                    op, node.value, like=node)), node)
        if isinstance(target, ast.Attribute):
            return ast.copy_location(ast.Expr(_call(
                "__aug_attr", target.value, ast.Constant(target.attr), op, node.value,
                like=node)), node)
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        # the loop variables (both of `for i, v in enumerate(xs)`) take their compiled types
        names = [node.target] if isinstance(node.target, ast.Name) else [
            t for t in node.target.elts if isinstance(t, ast.Name)] \
            if isinstance(node.target, ast.Tuple) else []
        for target in reversed(names):
            conv = ast.Assign(targets=[ast.Name(id=target.id, ctx=ast.Store())],
                              value=_call("__conv", ast.Name(id=target.id, ctx=ast.Load()),
                                          ast.Constant(target.id), like=node))
            node.body.insert(0, ast.copy_location(conv, node))
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if node.value is not None:
            node.value = _call("__ret", node.value, like=node)
        return node


def _as_value(node: ast.expr) -> ast.expr:
    copy = ast.parse(ast.unparse(node), mode="eval").body
    return ast.copy_location(copy, node)


def _call(name: str, *args: ast.expr, like: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args),
                                      keywords=[]), like)


class _Cast:
    """u32(x) and friends in the reference run (and usable as annotations)."""

    def __init__(self, t: Type) -> None:
        self.irtype = t

    def __call__(self, v: Any) -> Any:
        return convert(v, self.irtype)


class _Frame:
    """Per-call typing state: variable types fixed by their first assignment."""

    def __init__(self, static: dict[str, Any], ret: Type | None) -> None:
        self.types = dict(static)
        self.ret = ret

    def conv(self, v: Any, name: str) -> Any:
        t = self.types.get(name)
        if t is None:
            t = _type_of(v) if isinstance(v, bool | int | TypedInt) else None
            if isinstance(t, LitT):
                t = S64
            self.types[name] = t
        return convert(v, t)

    def declare(self, v: Any, name: str, annotation: Any) -> Any:
        t = getattr(annotation, "irtype", None) or (
            S64 if annotation in (int, bool) else from_spec(annotation))
        self.types[name] = t
        if isinstance(t, ArrayT) and not t.is_str:
            return TypedArray(t)
        return convert(v, t)


def typed_min(a: Any, b: Any) -> Any:
    return _pick(a, b, "lt")


def typed_max(a: Any, b: Any) -> Any:
    return _pick(a, b, "gt")


def _pick(a: Any, b: Any, op: str) -> Any:
    t = common(_type_of(a), _type_of(b))
    if isinstance(t, LitT):
        t = S64
    x, y = convert(a, t), convert(b, t)
    return x if cmp_op(op, x, y) else y


def typed_abs(a: Any) -> Any:
    t = _type_of(a)
    if isinstance(t, LitT):
        t = S64
    x = convert(a, t)
    return un_op("neg", x) if x.v < 0 else x


_PY_BUILTINS: dict[str, Any] = {
    **{name: (lambda s=s: TypedInt(s.python(), s.type))
       for name, s in intrinsics.SCALARS.items()},
    "log2_bucket": lambda v: TypedInt(_u64(v).bit_length(), U64),
    "linear_bucket": lambda v, lo, hi, step: TypedInt(_linear(*map(_u64, (v, lo, hi, step))),
                                                      U64),
}


def _u64(v: Any) -> int:
    return int(v) & (2**64 - 1)


def _linear(v: int, lo: int, hi: int, step: int) -> int:
    """The compiled linear bucket (u64 arithmetic; a zero step divides to 0, as BPF)."""
    def index(x: int) -> int:
        return ((x - lo) & (2**64 - 1)) // step + 1 if step else 1

    return 0 if v < lo else index(hi) if v >= hi else index(v)


@functools.lru_cache(maxsize=256)
def _compiled_code(pyfunc: Any) -> Any:
    src = source_of(pyfunc)
    tree = src.tree
    tree.decorator_list = []
    module = ast.Module(body=[_Rewrite().visit(tree)], type_ignores=[])
    ast.fix_missing_locations(module)
    ast.increment_lineno(module, src.first_line - 1)
    return compile(module, src.file, "exec"), src


def run_function(pyfunc: Any, args: tuple[Any, ...], param_types: list[Type | None],
                 ret: Type | None, static_types: dict[str, Any] | None = None,
                 cond_types: dict[tuple[int, int], Type] | None = None) -> Any:
    from pybpf.maps import Map

    code, src = _compiled_code(pyfunc)
    frame = _Frame(static_types or {}, ret)
    env: dict[str, Any] = {}
    for name, value in src.env.items():
        if isinstance(value, Map):
            value = MapView(value)
        elif getattr(value, "__bpf_builtin__", None) in _PY_BUILTINS:
            value = _PY_BUILTINS[value.__bpf_builtin__]
        elif hasattr(value, "__bpf_inline__"):
            value = _inline_runner(value)
        elif _is_int_ctype(value):
            value = _Cast(from_spec(value))
        elif isinstance(value, type) and hasattr(value, "_members_"):
            value = typed_struct(value)
        env[name] = value
    cond_types = cond_types or {}
    env.update({"__ifexp": lambda v, line, col: convert(v, cond_types.get((line, col))),
                "min": typed_min, "max": typed_max, "abs": typed_abs,
                "__setfield": set_field,
                "__bin": bin_op, "__un": un_op, "__cmp": cmp_op, "__conv": frame.conv,
                "__declare": frame.declare, "__aug_item": _aug_item,
                "__aug_attr": _aug_attr, "__ret": lambda v: convert(v, frame.ret)})
    namespace: dict[str, Any] = {}
    exec(code, env, namespace)  # noqa: S102 - the user's own function, rewritten
    fn = namespace[pyfunc.__name__]
    typed = [MapView(a) if isinstance(a, Map) else convert(a, t) if t is not None else a
             for a, t in zip(args, param_types, strict=False)]
    return fn(*typed)


def _cond_types(compiled: Any, src: Any) -> dict[tuple[int, int], Type]:
    """(line in the function's source, column) -> type of each conditional expression, as
    the front end recorded it (also for those it folded away)."""
    out: dict[tuple[int, int], Type] = {}
    for (file, line, col), t in compiled.cond_types.items():
        if file == src.file:
            out[(line - src.first_line + 1, col - 1 - src.indent)] = t
    return out


def _inline_runner(target: Any) -> Any:
    pyfunc = target.__bpf_inline__
    return lambda *args: run_inline(pyfunc, args)


def run_inline(pyfunc: Any, args: tuple[Any, ...]) -> Any:
    with room_to_recurse():
        return _run_inline(pyfunc, args)


def _run_inline(pyfunc: Any, args: tuple[Any, ...]) -> Any:
    src = source_of(pyfunc)
    ann = [_annotation(src, a.annotation) for a in src.tree.args.args]
    ret = _annotation(src, src.tree.returns) or S64
    return run_function(pyfunc, args, ann, ret)


def _annotation(src: Any, node: ast.expr | None) -> Type | None:
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return from_spec(node.value)
    value = eval(compile(ast.Expression(node), src.file, "eval"), src.env)  # noqa: S307
    if value is Any:
        return None
    return S64 if value in (int, bool) else from_spec(value)


def _is_int_ctype(value: Any) -> bool:
    from pybpf import types

    try:
        return value in (types.u8, types.u16, types.u32, types.u64, types.s8, types.s16,
                         types.s32, types.s64)
    except TypeError:
        return False


def _aug_item(container: Any, key: Any, op: str, value: Any) -> None:
    container[key] = bin_op(op, container[key], value)


def _aug_attr(obj: Any, name: str, op: str, value: Any) -> None:
    set_field(obj, name, bin_op(op, getattr(obj, name), value))


def run(program: Any, args: tuple[Any, ...]) -> Any:
    """`program.py(*args)`: the reference run of a compiled program's function."""
    with room_to_recurse():  # the source is rewritten by a recursive visitor
        return _run(program, args)


def _run(program: Any, args: tuple[Any, ...]) -> Any:
    src = source_of(program.pyfunc)
    params = [_annotation(src, a.annotation) for a in src.tree.args.args]
    ret = _annotation(src, src.tree.returns)
    from pybpf.compiler.api import FunctionProgram

    if isinstance(program, FunctionProgram):
        params = [p or U64 for p in params]
        ret = ret or U64
    static: dict[str, Any] = {}
    conds: dict[tuple[int, int], Type] = {}
    try:  # the variables' types as the compiler fixed them (first assignment in the source)
        compiled = program.compiled
        static = {k: v for k, v in compiled.var_types.items() if "." not in k}
        conds = _cond_types(compiled, src)
    except Exception:  # noqa: BLE001 - a program that does not compile runs untyped
        pass
    result = run_function(program.pyfunc, args, params, ret, static, conds)
    if result is None and isinstance(program, FunctionProgram):
        result = 0  # falling off the end returns 0, as compiled
    return int(result) if isinstance(result, TypedInt | bool) else result
