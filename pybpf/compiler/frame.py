"""The stack frame and the register pool of the code generator.

Frame: every IR variable gets a fixed slot (8-byte aligned); below them a scratch region
used like a stack (mark/release around each statement) for spills, map keys and probe-read
buffers. The kernel's 512-byte limit is checked as slots are handed out.

Registers: expression temporaries live in the callee-saved r6-r9, so they survive helper
calls; r0-r5 are used only inside the code for one node (call set-up, results). When all four
are taken, the oldest unpinned temporary is spilled to a scratch slot and reloaded on use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pybpf import asm
from pybpf.compiler.errors import CompileError, Loc

STACK_LIMIT = 512
POOL = (9, 8, 7, 6)
# A variable too big for the stack lives in the program's per-CPU scratch value instead; its
# "slot" is then SCRATCH + its offset there (stack slots are negative, so the two never meet)
SCRATCH = 1 << 24


def in_scratch(slot: int) -> bool:
    return slot >= SCRATCH


def round8(n: int) -> int:
    return (n + 7) & ~7


def access_width(remaining: int, *addrs: int) -> int:
    """The widest access (8, 4, 2, 1 bytes) that fits and is aligned at every address: the
    verifier rejects misaligned stack accesses."""
    for width in (8, 4, 2, 1):
        if remaining >= width and all(a % width == 0 for a in addrs):
            return width
    return 1


class Frame:
    def __init__(self) -> None:
        self.fixed = 0  # bytes used by variables
        self.scratch = 0  # bytes used by scratch below them
        self.peak = 0

    def alloc_fixed(self, size: int, loc: Loc, what: str) -> int:
        self.fixed += round8(max(size, 1))
        self._check(loc, what)
        return -self.fixed

    def alloc_scratch(self, size: int, loc: Loc, what: str = "a temporary") -> int:
        self.scratch += round8(max(size, 1))
        self._check(loc, what)
        return -(self.fixed + self.scratch)

    def mark(self) -> int:
        return self.scratch

    def release(self, mark: int) -> None:
        self.scratch = mark

    def _check(self, loc: Loc, what: str) -> None:
        used = self.fixed + self.scratch
        self.peak = max(self.peak, used)
        if used > STACK_LIMIT:
            raise StackOverflowError(
                f"the program needs {used} bytes of stack for {what}; BPF programs have "
                f"{STACK_LIMIT}", loc,
                "Use fewer or smaller local strings and structs, or keep data in a map "
                "(a per-CPU array works as scratch space).")


@dataclass
class Scratch:
    """The variables placed in scratch memory (by id, with their offsets in it) and the
    per-CPU array of one element that holds it (a pybpf.maps.PerCPUArray)."""

    offsets: dict[int, int]
    size: int
    map: Any


class StackOverflowError(CompileError):
    """The frame needs more than the kernel's 512 bytes (the pipeline then moves the biggest
    variables to scratch memory and generates again)."""


@dataclass(eq=False)
class Temp:
    """An expression value held in a pool register or, when spilled, in a scratch slot."""

    reg: int | None = None
    slot: int | None = None
    pinned: bool = False  # in use by the current instruction (transient)
    held: bool = False  # a result register across a branch (until released)
    age: int = 0
    borrowed: bool = False  # a variable's own register, read in place: never freed or mutated


@dataclass
class Pool:
    emit: Callable[[asm.Instruction], None]
    frame: Frame
    loc: Callable[[], Loc]
    free: list[int] = field(default_factory=lambda: list(POOL))
    live: list[Temp] = field(default_factory=list)
    clock: int = 0

    def new(self) -> Temp:
        t = Temp(reg=self._take(), age=self._tick())
        self.live.append(t)
        return t

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _take(self) -> int:
        if self.free:
            return self.free.pop()
        victims = [t for t in self.live
                   if t.reg is not None and not t.pinned and not t.held]
        if not victims:
            raise CompileError("expression too complex: it needs more values at once than "
                               "there are registers", self.loc(),
                               "Split it into several statements.")
        victim = min(victims, key=lambda t: t.age)
        if victim.slot is None:
            victim.slot = self.frame.alloc_scratch(8, self.loc(), "a spilled value")
        reg = victim.reg
        assert reg is not None
        self.emit(asm.stx("u64", asm.R10, victim.slot, asm.Reg(reg)))
        victim.reg = None
        return reg

    def borrow(self, reg: int) -> Temp:
        """A read-only view of a register variable (no copy)."""
        return Temp(reg=reg, borrowed=True)

    def own(self, t: Temp) -> Temp:
        """`t` if it may be modified in place, else a fresh copy of it."""
        if not t.borrowed:
            return t
        new = self.new()
        (r,) = self.reg(new)
        self.emit(asm.mov(r, asm.Reg(t.reg)))  # type: ignore[arg-type]
        return new

    def reg(self, *temps: Temp) -> list[asm.Reg]:
        """The registers of `temps`, reloading spilled ones; all are in registers at once."""
        for t in temps:
            t.pinned = True
        try:
            for t in temps:
                if t.reg is None:
                    t.reg = self._take()
                    assert t.slot is not None
                    self.emit(asm.ldx("u64", asm.Reg(t.reg), asm.R10, t.slot))
                t.age = self._tick()
            return [asm.Reg(t.reg) for t in temps]  # type: ignore[arg-type]
        finally:
            for t in temps:
                t.pinned = False

    def release(self, *temps: Temp) -> None:
        for t in temps:
            if t.borrowed:
                continue
            if t in self.live:
                self.live.remove(t)
                if t.reg is not None:
                    self.free.append(t.reg)
                t.reg = None
                t.held = False

    def flush(self, keep: tuple[Temp, ...] = ()) -> None:
        """Spill every live temporary except `keep`: before control flow splits inside an
        expression, so that both paths agree on where each value lives."""
        for t in list(self.live):
            if t in keep or t.reg is None or t.held:
                continue
            if t.slot is None:
                t.slot = self.frame.alloc_scratch(8, self.loc(), "a spilled value")
            self.emit(asm.stx("u64", asm.R10, t.slot, asm.Reg(t.reg)))
            self.free.append(t.reg)
            t.reg = None

    def hold(self, t: Temp) -> None:
        """Keep `t` in its register until released (a branch result)."""
        self.reg(t)
        t.held = not t.borrowed
