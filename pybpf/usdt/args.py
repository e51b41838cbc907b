"""USDT argument specs (the `Arguments:` of a SystemTap note) parsed into descriptions.

A note's argument string is space-separated `SIZE@OPERAND` items: SIZE is the byte width,
negative when the value is signed (`-4@...` is an int32, `8@...` a uint64), and OPERAND is
the assembler operand the compiler chose for the value at the probe site (x86-64, AT&T
syntax):

    %eax  %r12  %sil        a register (or a part of one)
    8(%rbp)  -20(%rsp)      memory at a register plus an offset
    (%rax,%rdx,8)           memory at base + index * scale (+ offset)
    glob(%rip)  glob+8(%rip) a global, relative to the instruction pointer
    $5  $-3                 a constant

`parse_args` gives one `UsdtArg` per item; `pybpf.compiler.usdtargs` turns them into code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pybpf.usdt.errors import UsdtError

#: x86-64 register names -> (struct pt_regs field, byte width, bit shift)
REGISTERS: dict[str, tuple[str, int, int]] = {}


def _add_registers() -> None:
    legacy = {"ax": "a", "bx": "b", "cx": "c", "dx": "d"}
    for field, letter in legacy.items():
        REGISTERS.update({f"r{letter}x": (field, 8, 0), f"e{letter}x": (field, 4, 0),
                          f"{letter}x": (field, 2, 0), f"{letter}l": (field, 1, 0),
                          f"{letter}h": (field, 1, 8)})
    for field in ("si", "di", "bp", "sp"):
        REGISTERS.update({f"r{field}": (field, 8, 0), f"e{field}": (field, 4, 0),
                          field: (field, 2, 0), f"{field}l": (field, 1, 0)})
    for n in range(8, 16):
        REGISTERS.update({f"r{n}": (f"r{n}", 8, 0), f"r{n}d": (f"r{n}", 4, 0),
                          f"r{n}w": (f"r{n}", 2, 0), f"r{n}b": (f"r{n}", 1, 0),
                          f"r{n}l": (f"r{n}", 1, 0)})
    REGISTERS.update({"rip": ("ip", 8, 0), "eip": ("ip", 4, 0)})


_add_registers()

_ITEM = re.compile(r"^(-?)(\d+)@(.+)$")
_CONST = re.compile(r"^\$(-?(?:0x[0-9a-fA-F]+|\d+))$")
_REG = re.compile(r"^%([a-z0-9]+)$")
# [disp](%base[,%index[,scale]]); disp is a number or symbol[+-number]
_MEM = re.compile(r"^(?P<disp>[^()]*)\((?P<base>%[a-z0-9]+)?"
                  r"(?:,(?P<index>%[a-z0-9]+)(?:,(?P<scale>[1248]))?)?\)$")
_SYMDISP = re.compile(r"^(?P<sym>[A-Za-z_.$][\w.$@]*)(?P<off>[+-](?:0x[0-9a-fA-F]+|\d+))?$")


@dataclass(frozen=True)
class UsdtArg:
    """One argument: `size` bytes, `signed`, and where it is at the probe site.

    kind "const": the value is `value`.
    kind "reg":   register `reg` (a pt_regs field), its low `reg_size` bytes after shifting
                  right by `reg_shift` bits (%ah is ax >> 8).
    kind "mem":   `size` bytes at reg + offset (+ index * scale); `reg` may be "ip" with
                  `symbol` set: the global `symbol` (+ offset), located from the probe's
                  own address at run time."""

    spec: str
    size: int
    signed: bool
    kind: str
    reg: str = ""
    reg_size: int = 8
    reg_shift: int = 0
    offset: int = 0
    index: str = ""
    scale: int = 1
    value: int = 0
    symbol: str = ""

    @property
    def type_name(self) -> str:
        """u8..u64 / s8..s64: the integer type the argument reads as."""
        return f"{'s' if self.signed else 'u'}{8 * self.size}"

    def describe(self) -> str:
        """How bpftrace/readelf readers think of it: 'int32 in %edx', 'uint64 at 8(%rbp)'."""
        what = f"{'int' if self.signed else 'uint'}{8 * self.size}"
        operand = self.spec.split("@", 1)[1]
        if self.kind == "const":
            return f"{what} constant {self.value}"
        if self.kind == "reg":
            return f"{what} in {operand}"
        return f"{what} at {operand}"


def _register(name: str, spec: str) -> tuple[str, int, int]:
    reg = REGISTERS.get(name.lstrip("%"))
    if reg is None:
        raise UsdtError(f"USDT argument {spec!r}: unknown x86-64 register {name!r}")
    return reg


def parse_arg(spec: str) -> UsdtArg:
    """One `SIZE@OPERAND` item; UsdtError for forms this reader does not know."""
    m = _ITEM.match(spec)
    if m is None:
        # a bare operand (old notes without sizes): a signed 64-bit value, as systemtap reads
        m = _ITEM.match(f"-8@{spec}")
        if m is None:
            raise UsdtError(f"USDT argument {spec!r} is not SIZE@OPERAND")
    sign, width, operand = m.groups()
    size = int(width)
    if size not in (1, 2, 4, 8):
        raise UsdtError(f"USDT argument {spec!r}: size {size} is not 1, 2, 4 or 8 bytes")
    signed = sign == "-"
    if (c := _CONST.match(operand)) is not None:
        return UsdtArg(spec, size, signed, "const", value=int(c.group(1), 0))
    if (r := _REG.match(operand)) is not None:
        reg, reg_size, shift = _register(r.group(1), spec)
        return UsdtArg(spec, size, signed, "reg", reg=reg, reg_size=reg_size, reg_shift=shift)
    mm = _MEM.match(operand)
    if mm is None:
        raise UsdtError(f"USDT argument {spec!r}: operand {operand!r} is not a register, "
                        "memory or constant operand pybpf reads")
    disp = mm.group("disp").strip()
    symbol = ""
    offset = 0
    if disp:
        try:
            offset = int(disp, 0)
        except ValueError:
            sd = _SYMDISP.match(disp)
            if sd is None:
                raise UsdtError(f"USDT argument {spec!r}: cannot read displacement "
                                f"{disp!r}") from None
            symbol = sd.group("sym")
            offset = int(sd.group("off"), 0) if sd.group("off") else 0
    base = mm.group("base")
    if base is None:
        raise UsdtError(f"USDT argument {spec!r}: absolute addresses are not supported")
    reg, reg_size, _ = _register(base, spec)
    if reg_size != 8:
        raise UsdtError(f"USDT argument {spec!r}: 32-bit address registers are not supported")
    if symbol and reg != "ip":
        raise UsdtError(f"USDT argument {spec!r}: a symbol displacement needs %rip")
    index, scale = "", 1
    if mm.group("index"):
        index, isize, _ = _register(mm.group("index"), spec)
        if isize != 8 or index == "ip":
            raise UsdtError(f"USDT argument {spec!r}: unsupported index register")
        scale = int(mm.group("scale") or 1)
    return UsdtArg(spec, size, signed, "mem", reg=reg, offset=offset, index=index,
                   scale=scale, symbol=symbol)


def parse_args(text: str) -> list[UsdtArg]:
    """Every argument of a note's argument string (empty for a probe without arguments)."""
    return [parse_arg(item) for item in text.split()]


__all__ = ["REGISTERS", "UsdtArg", "parse_arg", "parse_args"]
