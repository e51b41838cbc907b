"""Builtins (pid, comm, args, kstack...), functions (printf, str, ksym, exit...) and the map
aggregates (count, sum, avg, min, max, stats, hist, lhist) lowered to IR."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pybpf.compiler import intrinsics, ir
from pybpf.compiler.intrinsics import ARG_REGS
from pybpf.compiler.irtypes import LIT, S64, U8, U32, U64, ArrayT, IntT, PtrT, str_type
from pybpf.lang import ast, strfuncs
from pybpf.lang.semantic import MapInfo
from pybpf.lang.types import INT64, LT, STRLEN, UINT32, UINT64, string, tuple_ir, tuple_layout

if TYPE_CHECKING:
    from pybpf.lang.lower import TV, ProbeLowerer

FORMAT_SPEC = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?(?:\.(?P<prec>\d+))?"
                         r"(?P<len>hh|h|ll|l|z|j|t)?(?P<conv>r[xh]?|[diouxXcspfge%])")
UNSAFE = ("system", "signal")
# bpftrace sets no count: its record must fit the 512-byte stack (at least 8 bytes each)
PRINTF_MAX_ARGS = 63


def _lt(t: IntT) -> LT:
    return LT("int", t.bits, t.signed)


# ------------------------------------------------------------------------------------------
# builtins
def builtin(lw: ProbeLowerer, e: ast.Ident) -> TV:
    name, loc = e.name, e.loc
    kind = lw.probe.kind
    scalar = intrinsics.ONELINER_SCALARS.get(name)
    if scalar is not None:  # every one of them is a uint64 in bpftrace 0.17 (sizeof(pid) 8)
        return lw._as(scalar.build(loc), U64), UINT64
    if name == "username":
        return intrinsics.uid(loc), LT("username")
    if name == "elapsed":
        start = ir.Const(U64, lw.comp.start_ns)
        return ir.BinOp(U64, "sub", intrinsics.ktime_ns(loc), start, loc=loc), UINT64
    if name == "ctx":  # the probe's context pointer (a kernel address), for casts
        return ir.CtxPtr(U64, loc=loc), LT("ptr", 64, False)
    if name == "curtask":
        from pybpf.lang import kstructs

        return intrinsics.current_task(loc), kstructs.task_pointer(lw.comp.script_types())
    if name == "comm":
        var = lw.temp(str_type(intrinsics.COMM_LEN), loc, "comm")
        return intrinsics.comm(var, loc, lw.comp.target), string(intrinsics.COMM_LEN)
    if name in ("kstack", "ustack"):
        return stack(lw, name == "ustack", loc)
    if name == "probe":
        return ir.Const(U64, lw.comp.name_id(lw.probe.full_name), loc=loc), LT("probe")
    if name == "func":
        if kind not in ("uprobe", "uretprobe", "kprobe", "kretprobe", "kfunc", "kretfunc"):
            raise lw.error(e, f"the func builtin is not available in {kind} probes")
        return ir.Const(U64, lw.comp.name_id(lw.probe.name), loc=loc), LT("probe")
    if name == "cpid":
        if lw.comp.cpid is None:
            raise lw.error(e, "cpid is only available with -c CMD")
        return ir.Const(U32, lw.comp.cpid, loc=loc), UINT32
    if name == "retval":
        if kind in ("kretprobe", "kretfunc"):
            from pybpf.lang import kargs

            return kargs.retval(lw, e)
        if kind == "kfunc":
            raise lw.error(e, "retval is not available in kfunc probes (the function has not "
                              "returned yet)", f"Use kretfunc:{lw.probe.name}.")
        if kind == "uretprobe":
            return intrinsics.return_value(loc), UINT64
        raise lw.error(e, f"the retval builtin is only available in kretprobe, kretfunc and "
                          f"uretprobe probes, not "
                          f"{kind}", "For syscalls use tracepoint:syscalls:sys_exit_*'s "
                                     "args.ret.")
    if re.fullmatch(r"arg\d+", name):
        i = int(name[3:])
        if kind == "kprobe":
            from pybpf.lang import kargs

            return kargs.kprobe_arg(lw, e, i)
        if kind in ("kfunc", "kretfunc"):
            from pybpf.lang import kargs

            raise lw.error(e, f"{name} is not available in {kind} probes: their arguments have "
                              "names", f"Use args->NAME; {lw.probe.name}() takes: "
                                       f"{kargs.arg_names(lw)}.")
        if kind == "usdt":
            from pybpf.lang import usdt

            return usdt.arg(lw, e, i)
        if kind in ("uprobe", "uretprobe") and i < len(ARG_REGS):
            return intrinsics.argument(i, loc), UINT64
        if kind == "rawtracepoint":
            return ir.CtxLoad(U64, 8 * i, 8, loc=loc), UINT64
        raise lw.error(e, f"{name} is not available in {kind} probes")
    if name == "args":
        if kind in ("kfunc", "kretfunc"):
            from pybpf.lang import kargs

            raise lw.error(e, "args is a record: use one of its fields (args->name)",
                           f"{lw.probe.name}() takes: {kargs.arg_names(lw)}.")
        if kind in ("kprobe", "kretprobe"):
            raise lw.error(e, f"args is not available in {kind} probes",
                           "Use arg0, arg1, ... (raw registers), or a kfunc probe for named, "
                           "typed arguments.")
        raise lw.error(e, "args is a record: use one of its fields (args.name)")
    from pybpf.lang.declarations import kernel_enumerator

    value = lw.comp.tree.enums.get(name)  # the script's own enum { A = 1 } first
    if value is not None:
        return ir.Const(LIT, value, loc=loc), INT64
    value = kernel_enumerator(name)  # TCP_ESTABLISHED: an enumerator of the kernel's BTF
    if value is not None:
        return ir.Const(LIT, value, loc=loc), INT64
    raise lw.error(e, f"unknown identifier: {name!r}")


def stack(lw: ProbeLowerer, user: bool, loc: ast.Loc) -> TV:
    sid = intrinsics.stack_id(lw.use_map(lw.comp.stacks_ref()), user, loc)
    if not user:
        return sid, LT("kstack")
    lt = LT("ustack")
    t = lt.ir()
    var = lw.temp(t, loc, "ustack")
    pid = intrinsics.pid(loc, U64)
    init: list[ir.Stmt] = [ir.Store(var, 0, S64, sid, loc=loc), ir.Store(var, 8, U64, pid, loc=loc)]
    return ir.Agg(t, var, init, loc=loc), lt


def field(lw: ProbeLowerer, e: ast.Field) -> TV:
    loc = e.loc
    if isinstance(e.base, ast.Ident) and e.base.name == "args":
        if lw.probe.kind == "tracepoint":
            return tracepoint_field(lw, e)
        if lw.probe.kind in ("kfunc", "kretfunc"):
            from pybpf.lang import kargs

            return kargs.kfunc_field(lw, e)
        hint = ("Use arg0, arg1, ... (raw registers), or a kfunc probe for named, typed "
                "arguments." if lw.probe.kind in ("kprobe", "kretprobe") else "")
        raise lw.error(e, f"args is not available in {lw.probe.kind} probes", hint)
    value, lt = lw.expr(e.base)
    from pybpf.lang import kstructs

    if kstructs.is_struct_access(lt):
        return kstructs.field(lw, e, value, lt)
    if lt.kind == "tuple" and e.name.isdigit():
        i = int(e.name)
        if i >= len(lt.items):
            raise lw.error(e, f"tuple index {i} out of range (the tuple has {len(lt.items)} "
                              "elements)")
        var = lw.storage_var(value, loc)
        item = lt.items[i]
        off = tuple_layout(lt.items)[i]
        t = item.ir()
        if item.is_int:
            return ir.MemLoad(t, ir.AddrOf(PtrT(t, "stack"), var, 0, loc=loc), off, loc=loc), item
        from pybpf.lang.lower import copy_part

        tmp = lw.temp(t, loc, "item")
        for s in copy_part(ir.VarRef(t, var, off, loc=loc), tmp, 0):
            lw.emit(s)
        return ir.VarRef(t, tmp, loc=loc), item
    raise lw.error(e, f"cannot access field {e.name!r} of {lt}",
                   "Fields are read through typed pointers: cast the value, e.g. "
                   "((struct task_struct *)$p)->pid." if lt.is_int else "")


def tracepoint_field(lw: ProbeLowerer, e: ast.Field) -> TV:
    fmt, loc = lw.fmt, e.loc
    if e.name not in fmt:
        names = ", ".join(f.name for f in fmt.fields)
        raise lw.error(e, f"tracepoint {lw.probe.target}:{lw.probe.name} has no field "
                          f"{e.name!r}", f"Its fields: {names}.")
    f = fmt.field(e.name)
    space = "user" if lw.probe.target == "syscalls" else "kernel"
    if f.is_data_loc:
        return ir.CtxLoad(U32, f.offset, 4, loc=loc), LT("dataloc", 32, False)
    if f.is_array:
        n = f.array_len or 0
        if f.is_string:
            t = str_type(n)
            var = lw.temp(t, loc, "field")

            def fill(v: ir.Var, off: int) -> list[ir.Stmt]:
                if off == 0:
                    return [ir.CtxCopy(v, f.offset, n, loc=loc)]
                return [ir.CtxCopy(var, f.offset, n, loc=loc),
                        ir.Store(v, off, t, ir.VarRef(t, var, loc=loc), loc=loc)]

            return ir.Agg(t, var, fill(var, 0), loc=loc), string(n)
        elem = max(f.size // max(n, 1), 1)
        return ir.CtxArray(ArrayT(IntT(min(elem, 8) * 8, f.signed), n), f.offset, loc=loc), \
            LT("ctxarray", elem * 8, f.signed, size=n)
    if f.is_pointer:
        from pybpf.lang import kstructs

        target = kstructs.c_pointer_target(f.elem_type)  # struct __kernel_timespec *rqtp
        return ir.CtxLoad(U64, f.offset, 8, loc=loc), LT("ptr", 64, False, fmt=space,
                                                        target=target)
    size = f.size if f.size in (1, 2, 4, 8) else 8
    return ir.CtxLoad(IntT(size * 8, f.signed), f.offset, size, loc=loc), \
        LT("int", size * 8, f.signed)


def index(lw: ProbeLowerer, e: ast.Index) -> TV:
    loc = e.loc
    base, lt = lw.expr(e.base)
    if isinstance(base, ir.CtxArray):
        i = lw.const_int(e.index, "the index of a tracepoint array")
        at = base.type
        assert isinstance(at, ArrayT)
        if not 0 <= i < at.n:
            raise lw.error(e.index, f"index {i} is out of range 0..{at.n - 1}")
        elem = at.elem
        assert isinstance(elem, IntT)
        return ir.CtxLoad(elem, base.offset + i * elem.size, elem.size, loc=loc), \
            LT("int", elem.bits, elem.signed)
    if lt.kind == "ptr" and lt.target is not None:
        from pybpf.lang import kstructs

        idx, _ = lw.int_operand(e.index, "an index")
        return kstructs.element(lw, e, base, lt, idx)
    if lt.kind == "ptr":
        idx, _ = lw.int_operand(e.index, "an index")
        addr = ir.BinOp(U64, "add", base, ir.BinOp(U64, "mul", lw._as(idx, U64),
                                                   ir.Const(U64, 8), loc=loc), loc=loc)
        return ir.ProbeRead(U64, addr, lt.fmt or "kernel", loc=loc), LT("ptr", 64, False,
                                                                       fmt=lt.fmt)
    raise lw.error(e, f"cannot index a value of type {lt}")


# ------------------------------------------------------------------------------------------
# functions
def call(lw: ProbeLowerer, e: ast.Call, statement: bool) -> TV | None:
    name, _loc, args = e.name, e.loc, e.args
    fn = FUNCTIONS.get(name)
    if name in ("count", "sum", "avg", "min", "max", "stats", "hist", "lhist"):
        raise lw.error(e, f"{name}() must be assigned to a map: @x = {name}(...)")
    if fn is None:
        raise lw.error(e, f"unknown function: {name}()")
    lo, hi = fn[1]
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise lw.error(e, f"{name}() takes {want} argument{'s' if hi != 1 else ''}, got "
                          f"{len(args)}")
    if name in UNSAFE and not lw.comp.unsafe:
        raise lw.error(e, f"{name}() is an unsafe function: run with --unsafe to allow it")
    return fn[0](lw, e)


def send(lw: ProbeLowerer, e: ast.Call, kind: str, fmt: str, args: list[TV],
         extra: object = None) -> None:
    """A record for user space through the events ring buffer."""
    lts = tuple(lt.widened() for _, lt in args)
    rec = lw.comp.record(kind, fmt, lts, extra, e)
    t = tuple_ir(rec.lt.items)
    var = lw.temp(t, e.loc, "rec")
    lw.emit(ir.Zero(var, loc=e.loc))
    lw.emit(ir.Store(var, 0, U64, ir.Const(U64, rec.id), loc=e.loc))
    for (value, have), want, off in zip(args, lts, tuple_layout(rec.lt.items)[1:], strict=True):
        lw.place_into(var, off, want, value, have, e.loc)
    lw.emit(ir.RingOutput(lw.use_map(lw.comp.events_ref()), var, loc=e.loc))


def _fmt_literal(lw: ProbeLowerer, e: ast.Call, what: str) -> str:
    if not e.args or not isinstance(e.args[0], ast.Str):
        raise lw.error(e.args[0] if e.args else e, f"{what}'s first argument must be a string "
                                                   "literal (the format)")
    return e.args[0].value


def f_printf(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    fmt = _fmt_literal(lw, e, e.name + "()")
    specs = [m for m in FORMAT_SPEC.finditer(fmt) if m.group("conv") != "%"]
    n = len(e.args) - 1
    if len(specs) != n:
        raise lw.error(e, f"{e.name}: {'Too many' if n > len(specs) else 'Not enough'} "
                          f"arguments for format string ({n} supplied, {len(specs)} expected)")
    args = []
    for m, a in zip(specs, e.args[1:], strict=True):
        value, lt = lw.expr(a)
        conv = m.group("conv")
        if lt.kind == "none":
            raise lw.error(a, "this argument has no value")
        if conv in "diouxXc" and not (lt.is_int or lt.kind in ("ksym", "probe", "strerror")):
            what = "string" if lt.kind == "str" else str(lt)
            raise lw.error(a, f"{e.name}: %{conv} specifier expects a value of type integer "
                              f"({what} supplied)")
        if conv[0] == "r" and lt.kind not in ("buf", "str"):
            raise lw.error(a, f"{e.name}: %r specifier expects a value of type buffer "
                              f"({lt} supplied)")
        if lt.kind == "dataloc":
            raise lw.error(a, "use str() to print a string field")
        args.append((value, lt))
    send(lw, e, "printf", fmt, args)
    return None


def f_time(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    fmt = _fmt_literal(lw, e, "time()") if e.args else "%H:%M:%S\n"
    send(lw, e, "time", fmt, [])
    return None


def f_exit(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    send(lw, e, "exit", "", [])
    lw.emit(ir.Return(None, loc=e.loc))
    return None


def f_system(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    fmt = _fmt_literal(lw, e, e.name + "()")
    args = [lw.expr(a) for a in e.args[1:]]
    send(lw, e, e.name, fmt, args)
    return None


def _map_arg(lw: ProbeLowerer, e: ast.Call, i: int = 0) -> ast.Map:
    a = e.args[i]
    if not isinstance(a, ast.Map):
        raise lw.error(a, f"{e.name}() expects a map (@name), not an expression")
    return a


def f_print(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    a = e.args[0]
    if isinstance(a, ast.Map) and not a.keys:
        top = lw.const_int(e.args[1], "print's top") if len(e.args) > 1 else 0
        div = lw.const_int(e.args[2], "print's divisor") if len(e.args) > 2 else 1
        lw.syms.map(a.name)
        send(lw, e, "print", "", [], (a.name, top, div))
        return None
    send(lw, e, "print_value", "", [lw.expr(a)])
    return None


def f_clear(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    m = _map_arg(lw, e)
    if m.keys:
        raise lw.error(m, f"{e.name}() takes a whole map (@name), not an element")
    send(lw, e, e.name, "", [], m.name)
    return None


def f_delete(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    m = _map_arg(lw, e)
    info = lw.syms.map(m.name)
    if lw.syms.final and info.kind in ("hist", "lhist"):
        raise lw.error(e, "delete() of one histogram key is not supported: clear() it")
    key = lw.map_key(m, info)
    if lw.syms.final:
        lw.emit(ir.MapDelete(lw.ref(info), key, loc=e.loc))
    return None


def f_str(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    n = STRLEN
    if len(e.args) == 2:
        n = lw.const_int(e.args[1], "str()'s length")
        if not 1 <= n <= 200:
            raise lw.error(e.args[1], "str()'s length must be between 1 and 200")
        n += 1 if n < 200 else 0
    value, lt = lw.expr(e.args[0])
    if lt.kind == "str":
        return value, lt
    loc = e.loc
    var = lw.temp(str_type(n), loc, "str")
    if lt.kind == "dataloc":
        off = ir.BinOp(U64, "and", lw._as(value, U64), ir.Const(U64, 0xFFFF), loc=loc)
        src: ir.Expr = ir.BinOp(U64, "add", ir.CtxPtr(U64, loc=loc), off, loc=loc)
        space = "kernel"
    elif lt.is_int:
        src, space = lw._as(value, U64), lt.fmt or ("user" if lw.probe.kind in (
            "uprobe", "uretprobe", "usdt") else "kernel")
        if not lt.fmt and lw.probe.kind in ("kprobe", "kretprobe", "kfunc", "kretfunc"):
            space = ""  # a register or an untagged pointer: user or kernel (as bpftrace)
    else:
        raise lw.error(e.args[0], f"str() reads a string from a pointer, not from {lt}")
    # a __data_loc address is computed from the context pointer: read where var stands
    return intrinsics.read_string(var, src, space, loc, fill_in_place=lt.kind != "dataloc"), \
        string(n)


def f_ksym(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    value, _ = lw.int_operand(e.args[0], "ksym()")
    return lw._as(value, U64), LT("ksym")


def f_usym(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    value, _ = lw.int_operand(e.args[0], "usym()")
    lt = LT("usym")
    t = lt.ir()
    var = lw.temp(t, e.loc, "usym")
    pid = intrinsics.pid(e.loc, U64)
    init: list[ir.Stmt] = [ir.Store(var, 0, U64, lw._as(value, U64), loc=e.loc),
                           ir.Store(var, 8, U64, pid, loc=e.loc)]
    return ir.Agg(t, var, init, loc=e.loc), lt


def f_kaddr(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    from pybpf.symbols import SymbolNotFoundError, ksym_addr

    name = _fmt_literal(lw, e, "kaddr()")
    try:
        return ir.Const(U64, ksym_addr(name), loc=e.loc), UINT64
    except SymbolNotFoundError as err:
        raise lw.error(e.args[0], f"kaddr: {str(err).splitlines()[0]}") from None
    except (OSError, LookupError):
        raise lw.error(e.args[0], f"kaddr: unknown kernel symbol {name!r}") from None


def f_uaddr(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    from pybpf.symbols import SymbolNotFoundError, elf_symbol

    name = _fmt_literal(lw, e, "uaddr()")
    if lw.probe.kind not in ("uprobe", "uretprobe"):
        raise lw.error(e, "uaddr() is only available in uprobe probes")
    try:
        return ir.Const(U64, elf_symbol(lw.probe.target, name).addr, loc=e.loc), UINT64
    except (SymbolNotFoundError, OSError, LookupError, AttributeError):
        raise lw.error(e.args[0], f"uaddr: unknown symbol {name!r} in "
                                  f"{lw.probe.target}") from None


def f_ntop(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    loc = e.loc
    lt_inet = LT("inet")
    t = lt_inet.ir()
    var = lw.temp(t, loc, "inet")
    init: list[ir.Stmt] = [ir.Zero(var, loc=loc)]
    addr_node = e.args[-1]
    value, lt = lw.expr(addr_node)
    if lt.kind == "inet":  # ntop(pton(...)), ntop(AF, pton(...)): the family is pton's
        return value, lt
    if len(e.args) == 2:
        af, _ = lw.int_operand(e.args[0], "ntop()'s address family")
        init.append(ir.Store(var, 0, U64, lw._as(af, U64), loc=loc))
    else:
        fam = 10 if lt.kind == "ctxarray" and lt.size == 16 else 2
        init.append(ir.Store(var, 0, U64, ir.Const(U64, fam), loc=loc))
    if lt.is_int:
        init.append(ir.Store(var, 8, U32, lw._as(value, U32), loc=loc))
    elif lt.kind == "ctxarray" and isinstance(value, ir.CtxArray):
        init.append(ir.CtxCopy(var, value.offset, min(lt.size * lt.bits // 8, 16), 8,
                               loc=loc))
    else:
        raise lw.error(addr_node, f"ntop() takes an integer or an address array, not {lt}")
    return ir.Agg(t, var, init, loc=loc), lt_inet


def f_join(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    loc = e.loc
    value, lt = lw.expr(e.args[0])
    if lt.kind != "ptr":
        raise lw.error(e.args[0], f"join() takes an array of string pointers (char **), not {lt}")
    sep = " "
    if len(e.args) == 2:
        if not isinstance(e.args[1], ast.Str):
            raise lw.error(e.args[1], "join()'s separator must be a string literal")
        sep = e.args[1].value
    space = lt.fmt or "kernel"
    base = lw.temp(U64, loc, "argv")
    lw.emit(ir.Assign(base, lw._as(value, U64), loc=loc))
    rec = lw.comp.record("join", sep, (string(STRLEN),), None, e)
    end = lw.comp.record("join_end", sep, (), None, e)
    t = tuple_ir(rec.lt.items)
    var = lw.temp(t, loc, "joinrec")
    ptr = lw.temp(U64, loc, "argp")
    body: list[ir.Stmt] = []
    events = lw.use_map(lw.comp.events_ref())
    for i in range(16):
        addr = ir.BinOp(U64, "add", ir.Load(U64, base, loc=loc), ir.Const(U64, 8 * i), loc=loc)
        body.append(ir.Assign(ptr, ir.ProbeRead(U64, addr, space, loc=loc), loc=loc))
        stop = ir.Compare(LIT, "eq", ir.Load(U64, ptr, loc=loc), ir.Const(U64, 0), loc=loc)
        part: list[ir.Stmt] = [
            ir.Zero(var, loc=loc), ir.Store(var, 0, U64, ir.Const(U64, rec.id), loc=loc),
            ir.HelperInto(f"bpf_probe_read_{space}_str",
                          [ir.AddrOf(PtrT(U8, "stack"), var, 8, loc=loc),
                           ir.Const(U64, STRLEN), ir.Load(U64, ptr, loc=loc)], loc=loc),
            ir.RingOutput(events, var, loc=loc)]
        body.append(ir.If(stop, [ir.Break(loc=loc)], part, loc=loc))
    counter = lw.temp(S64, loc, "once")
    lw.emit(ir.Loop(counter, 0, 1, 1, body, loc=loc))
    endvar = lw.temp(U64, loc, "joinend")
    lw.emit(ir.Assign(endvar, ir.Const(U64, end.id), loc=loc))
    lw.emit(ir.RingOutput(events, endvar, loc=loc))
    return None


def f_signal(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    a = e.args[0]
    if isinstance(a, ast.Str):
        import signal as _signal

        name = a.value if a.value.startswith("SIG") else "SIG" + a.value
        sig = getattr(_signal, name, None)
        if sig is None:
            raise lw.error(a, f"signal: unknown signal {a.value!r}")
        value: ir.Expr = ir.Const(U32, int(sig))
    else:
        v, _ = lw.int_operand(a, "signal()")
        value = lw._as(v, U32)
    lw.emit(ir.ExprStmt(ir.Call(S64, "bpf_send_signal", [value], loc=e.loc), loc=e.loc))
    return None


def f_strftime(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    fmt = _fmt_literal(lw, e, "strftime()")
    value, _ = lw.int_operand(e.args[1], "strftime()")
    return lw._as(value, U64), LT("timestamp", fmt=fmt)


def f_len(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    raise lw.error(e, "len() of a map is not supported in the kernel by pybpf trace; print() "
                      "the map instead")


def f_sizeof(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    """sizeof(type) and sizeof(expr), in bytes as bpftrace counts them: the expression is
    not evaluated (no code, no side effects)."""
    from pybpf.lang import kstructs

    a = e.args[0]
    if isinstance(a, ast.Ident) and (a.name in kstructs.INT_NAMES or a.name.endswith("*")
                                     or a.name.startswith(("struct ", "union "))):
        return ir.Const(LIT, kstructs.type_size(lw, a), loc=e.loc), INT64
    saved, lw.out = lw.out, []
    try:
        _, lt = lw.expr(a)
    finally:
        lw.out = saved
    return ir.Const(LIT, kstructs.value_size(lt), loc=e.loc), INT64


def f_bswap(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    """bswap(x): x with its bytes in the reverse order, at x's own size (a u16 port from
    network order)."""
    value, lt = lw.int_operand(e.args[0], "bswap()")
    bits = lt.bits if lt.kind == "int" else 64
    t = IntT(bits, False)
    if bits == 8:
        return lw._as(value, t), LT("int", 8, False)
    return ir.UnOp(t, f"bswap{bits}", lw._as(value, t), loc=e.loc), LT("int", bits, False)


def f_kstack(lw: ProbeLowerer, e: ast.Call) -> TV | None:
    return stack(lw, e.name == "ustack", e.loc)


FUNCTIONS = {
    "printf": (f_printf, (1, 1 + PRINTF_MAX_ARGS)), "print": (f_print, (1, 3)), "time": (f_time, (0, 1)),
    "exit": (f_exit, (0, 0)), "system": (f_system, (1, 8)), "cat": (f_system, (1, 8)),
    "clear": (f_clear, (1, 1)), "zero": (f_clear, (1, 1)), "delete": (f_delete, (1, 1)),
    "str": (f_str, (1, 2)), "ksym": (f_ksym, (1, 1)), "usym": (f_usym, (1, 1)),
    "kaddr": (f_kaddr, (1, 1)), "uaddr": (f_uaddr, (1, 1)), "ntop": (f_ntop, (1, 2)),
    "join": (f_join, (1, 2)), "signal": (f_signal, (1, 1)), "strftime": (f_strftime, (2, 2)),
    "len": (f_len, (1, 1)), "sizeof": (f_sizeof, (1, 1)), "bswap": (f_bswap, (1, 1)), "kstack": (f_kstack, (0, 2)),
    "ustack": (f_kstack, (0, 2)), **strfuncs.FUNCTIONS,
}


# ------------------------------------------------------------------------------------------
# aggregates
def aggregate(lw: ProbeLowerer, target: ast.Map, info: MapInfo, e: ast.Call) -> None:
    name, loc = e.name, e.loc
    nargs = {"count": (0, 0), "sum": (1, 1), "avg": (1, 1), "min": (1, 1), "max": (1, 1),
             "stats": (1, 1), "hist": (1, 1), "lhist": (4, 4)}[name]
    if not nargs[0] <= len(e.args) <= nargs[1]:
        raise lw.error(e, f"{name}() takes {nargs[0]} argument{'s' if nargs[0] != 1 else ''}, "
                          f"got {len(e.args)}")
    value: ir.Expr = ir.Const(S64, 1)
    vlt = INT64
    if e.args:
        value, vlt = lw.int_operand(e.args[0], f"{name}()")
    if name == "lhist":
        lo, hi, step = (lw.const_int(a, "lhist()'s bounds") for a in e.args[1:])
        if step <= 0 or hi <= lo:
            raise lw.error(e, "lhist(value, min, max, step): need min < max and step > 0")
        if info.lhist is not None and info.lhist != (lo, hi, step) and not lw.syms.final:
            raise lw.error(e, f"{info.display} already has lhist bounds {info.lhist}")
        info.lhist = (lo, hi, step)
    lw.syms.use_value(info, name, vlt.widened() if name in ("sum", "min", "max") else None, loc)
    v64 = lw.convert(value, vlt, LT("int", 64, vlt.signed)) if e.args else value
    vt = S64 if vlt.signed or isinstance(value.type, type(LIT)) else U64
    if name in ("hist", "lhist"):
        bucket = lw.temp(U64, loc, "bucket")
        val = lw.temp(S64, loc, "hv")
        lw.emit(ir.Assign(val, lw._as(v64, S64), loc=loc))
        if name == "hist":  # bpftrace's numbering: negatives in bucket 0, 0 in bucket 1
            steps = intrinsics.log2_bucket(val, bucket, True, loc)
        else:
            assert info.lhist is not None
            lo, hi, step = (ir.Const(S64, x) for x in info.lhist)
            steps = intrinsics.linear_bucket(ir.Load(S64, val, loc=loc), bucket, lo, hi, step,
                                             True, loc)
        for x in steps:
            lw.emit(x)
        key = lw.map_key(target, info, [(ir.Load(U64, bucket, loc=loc), UINT64)])
        if lw.syms.final:
            lw.emit(ir.MapAdd(lw.ref(info), key, ir.Const(U64, 1), loc=loc))
        return
    key = lw.map_key(target, info)
    if not lw.syms.final:
        return
    m = lw.ref(info)
    if name in ("count", "sum"):
        lw.emit(ir.MapAdd(m, key, v64 if name == "sum" else ir.Const(U64, 1), loc=loc))
        return
    key = lw.evaluated_once(key, loc)  # the statement uses it more than once
    if name in ("avg", "stats"):
        lw.emit(ir.MapAdd(m, key, ir.Const(U64, 1), 0, loc=loc))
        # the total goes where the count went: when the full map refused the key, it is
        # neither inserted nor refused a second time
        lw.emit(ir.MapAdd(m, key, lw._as(v64, S64), 8, insert=False, loc=loc))
    else:
        tmp = lw.temp(vt, loc, "mm")
        lw.emit(ir.Assign(tmp, lw._as(v64, vt), loc=loc))
        cur = ir.MapGet(vt, m, key, ir.Const(vt, 0), loc=loc)
        better = ir.Compare(LIT, "lt" if name == "min" else "gt", ir.Load(vt, tmp, loc=loc), cur,
                            vt.signed, loc=loc)
        cond = ir.Logic(LIT, "or", ir.Not(LIT, ir.MapHas(LIT, m, key, loc=loc), loc=loc), better,
                        loc=loc)
        lw.emit(ir.If(cond, [ir.MapUpdate(m, key, ir.Load(vt, tmp, loc=loc), loc=loc)], [],
                      loc=loc))


__all__ = ["FUNCTIONS", "aggregate", "builtin", "call", "field", "index"]
