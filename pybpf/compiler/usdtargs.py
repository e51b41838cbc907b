"""USDT arguments lowered to IR: argument N of a probe site read from the uprobe's pt_regs
context as its note's spec says (`pybpf.usdt.args`), for both front ends.

    register  %edx         the saved register, truncated to the spec's size
    memory    -8@8(%r8)    bpf_probe_read_user of `size` bytes at r8 + 8
    global    -8@g(%rip)   the same at g's run-time address: the probe's own address (the
                           `ip` the uprobe saved) moved by g's distance from it in the file
    constant  -4@$5        the number

The value has the spec's type (`-4@` is s32, `8@` u64): a signed argument sign-extends when
it is widened, as the C value would.
"""

from __future__ import annotations

from pybpf.compiler import intrinsics, ir
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.irtypes import INTS, U64, IntT
from pybpf.usdt import UsdtArg, UsdtError, UsdtProbe


def arg_type(arg: UsdtArg) -> IntT:
    return INTS[arg.type_name]


def _address(arg: UsdtArg, probe: UsdtProbe, loc: Loc, base: int) -> ir.Expr:
    addr: ir.Expr = intrinsics.register(arg.reg, loc, U64, base)
    offset = arg.offset
    if arg.symbol:
        from pybpf.symbols import SymbolNotFoundError, elf_symbols

        try:
            sym = elf_symbols(probe.path).symbol(arg.symbol)
        except SymbolNotFoundError as e:
            raise CompileError(f"USDT argument {arg.spec!r} of {probe.provider}:{probe.name} "
                               f"names {arg.symbol!r}, which {probe.path} has no symbol for "
                               f"({e})", loc) from None
        offset += sym.addr - probe.address  # ip is the probe's address at run time
    if arg.index:
        scaled = ir.BinOp(U64, "mul", intrinsics.register(arg.index, loc, U64, base),
                          ir.Const(U64, arg.scale), loc=loc)
        addr = ir.BinOp(U64, "add", addr, scaled, loc=loc)
    if offset:
        addr = ir.BinOp(U64, "add", addr, ir.Const(U64, offset & (2**64 - 1)), loc=loc)
    return addr


def lower(arg: UsdtArg, probe: UsdtProbe, loc: Loc, base: int = 0) -> ir.Expr:
    """The IR that reads `arg` of `probe` in a uprobe program at the probe's address
    (`base`: where pt_regs starts in the context)."""
    t = arg_type(arg)
    if arg.kind == "const":
        return ir.Const(t, t.wrap(arg.value), loc=loc)
    if arg.kind == "reg":
        value: ir.Expr = intrinsics.register(arg.reg, loc, U64, base)
        if arg.reg_shift:
            value = ir.BinOp(U64, "shr", value, ir.Const(U64, arg.reg_shift), loc=loc)
        if arg.reg_size < arg.size:  # a wide spec of a narrow register: its bits only
            value = ir.Cast(INTS[f"{'s' if arg.signed else 'u'}{8 * arg.reg_size}"], value,
                            loc=loc)
        return ir.Cast(t, value, loc=loc)
    return ir.ProbeRead(t, _address(arg, probe, loc, base), "user", loc=loc)


def probe_args(probe: UsdtProbe, loc: Loc) -> list[UsdtArg]:
    """The parsed arguments of `probe`, or a CompileError at `loc` saying which spec is not
    understood."""
    try:
        return probe.args
    except UsdtError as e:
        raise CompileError(str(e), loc) from None


def argument(probe: UsdtProbe, i: int, loc: Loc, base: int = 0) -> ir.Expr:
    """Argument `i` (from 0) of `probe`; a CompileError when the probe has fewer."""
    args = probe_args(probe, loc)
    if not 0 <= i < len(args):
        have = f"{len(args)} argument{'s' if len(args) != 1 else ''}"
        raise CompileError(f"USDT probe {probe.provider}:{probe.name} has {have}; there is no "
                           f"arg{i}", loc,
                           f"Its arguments: {describe(args)}." if args else "")
    return lower(args[i], probe, loc, base)


def describe(args: list[UsdtArg]) -> str:
    return ", ".join(f"arg{i} {a.describe()}" for i, a in enumerate(args)) or "none"


__all__ = ["arg_type", "argument", "describe", "lower", "probe_args"]
