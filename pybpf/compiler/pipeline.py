"""The compiler's stages, in order, from a front end's syntax to loadable instructions:

    lower       the front end: syntax -> typed IR (`ir.Function`), names resolved
    fold        drop code that cannot run, branches on constants (`fold`)
    accounting  counters of refused inserts and lost records (`accounting`)
    analysis    variables, which live in registers, which need a zero (`analysis`)
    emit        IR -> instructions with labels, shaped for the verifier (`codegen`)
    loop budget refuse loops the verifier could not follow (`loopcost`)
    peephole    local clean-ups of the instruction list (`peephole`)
    resolve     labels -> jump offsets (`asm.resolve`)

`compile()` runs them; a failure that is not a CompileError is a compiler bug, reported as
one CompileError naming the stage and the source position it was at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pybpf import asm
from pybpf.compiler import analysis, codegen, fold, ir, peephole
from pybpf.compiler.accounting import Counters
from pybpf.compiler.errors import NO_LOC, CompileError, Loc
from pybpf.compiler.frame import Scratch, StackOverflowError, round8
from pybpf.compiler.irtypes import Type
from pybpf.compiler.recursion import room_to_recurse, too_deep
from pybpf.compiler.target import Target, kernel_target

LoopKey = tuple[str, int, int]

STAGES = ("lower", "fold", "accounting", "analysis", "emit", "loop budget", "peephole",
          "resolve")


@dataclass
class ProgramObjects:
    """The kernel objects the compiler creates for a program, besides the user's maps: the
    ring buffer of submit() (with the struct type of its records), the stack-trace map of
    kstack()/ustack(), and the counters of what maps refused."""

    events: Any = None  # pybpf.maps.RingBuf
    event_type: Type | None = None
    stacks: Any = None  # pybpf.maps.StackTrace
    counters: Counters | None = None
    # pybpf.maps.PerCPUArray per function: its variables too big for the stack
    scratch: list[Any] = field(default_factory=list)

    def readable_after_unload(self) -> bool:
        """Whether some of them hold data worth reading after the program is unloaded."""
        return self.events is not None or self.stacks is not None

    def close(self) -> None:
        for m in (self.events, self.stacks, *self.scratch):
            if m is not None:
                m.close()
        if self.counters is not None:
            self.counters.close()


@dataclass
class Lowered:
    """What the lower stage gives: the function, the objects made for it, and the types
    the Python reference run needs (variables by name; conditional expressions by place)."""

    fn: ir.Function
    objects: ProgramObjects = field(default_factory=ProgramObjects)
    var_types: dict[str, Type] = field(default_factory=dict)
    cond_types: dict[tuple[str, int, int], Type] = field(default_factory=dict)


@dataclass
class Compiled:
    """What the compiler produced for one function."""

    ir: ir.Function
    insns: list[asm.Instruction]
    objects: ProgramObjects
    var_types: dict[str, Type]
    cond_types: dict[tuple[str, int, int], Type]
    #: the loops run by bpf_loop (by codegen.loop_key), and the code made again with more
    #: of them (for a loop the verifier gave up on, see rejection.load_retrying)
    callback_loops: frozenset[LoopKey] = frozenset()
    scratch: Scratch | None = field(default=None, repr=False)
    regenerate: Callable[[frozenset[LoopKey]], Compiled] | None = field(
        default=None, repr=False, compare=False)

    @property
    def source_map(self) -> list[tuple[int, Loc]]:
        """(slot index, source position) of every instruction."""
        out, slot = [], 0
        for insn in self.insns:
            out.append((slot, insn.loc))
            slot += insn.size
        return out


@contextmanager
def stage(name: str, where: Callable[[], Loc]) -> Iterator[None]:
    """Run one stage: a CompileError passes, and so does a kernel BTF that cannot be used
    (BTFFileError: the caller says so in its words); anything else is a compiler bug."""
    from pybpf.btf.errors import BTFFileError

    try:
        yield
    except (CompileError, BTFFileError):
        raise
    except RecursionError:
        loc = where()
        raise too_deep(loc if loc.line else None) from None
    except Exception as e:  # noqa: BLE001 - a bug: still one clear message, with the place
        loc = where()
        raise CompileError(f"internal compiler error in stage {name} ({type(e).__name__}: "
                           f"{e})", loc if loc.line else None,
                           "This is a bug in pybpf's compiler; please report it with this "
                           "source.") from e


def compile(lower: Callable[[], Lowered], *, target: Target | None = None,
            counters: Counters | None = None, where: Loc = NO_LOC) -> Compiled:
    """Compile one function. `counters`: shared with other functions of the same program
    (already planned for all of them); else the function gets counters of its own.
    `where`: the position named by internal errors before code generation has one."""
    target = target if target is not None else kernel_target()
    with room_to_recurse():
        return _compile(lower, target, counters, where)


def _compile(lower: Callable[[], Lowered], target: Target, counters: Counters | None,
             where: Loc) -> Compiled:
    with stage("lower", lambda: where):
        lowered = lower()
    fn = lowered.fn
    with stage("fold", lambda: where):
        fold.run(fn)
    with stage("accounting", lambda: where):
        own = counters if counters is not None else lowered.objects.counters or Counters()
        own.plan([fn])
        own.create()
        if own.refs:
            lowered.objects.counters = own
    return _generate(lowered, target, where, frozenset())


def _generate(lowered: Lowered, target: Target, where: Loc,
              callback_loops: frozenset[LoopKey]) -> Compiled:
    """The code of a lowered function, from the analysis on (run again to put more loops
    into bpf_loop callbacks)."""
    fn = lowered.fn
    with stage("analysis", lambda: where):
        facts = analysis.facts(fn, codegen.VAR_REGS)
    cg, code, loops = _emit_within_budget(fn, facts, target, lowered.objects, where,
                                          callback_loops)
    with stage("peephole", lambda: where):
        code = peephole.run(code)
    with stage("resolve", lambda: where):
        insns = asm.resolve(code)

    def regenerate(more: frozenset[LoopKey]) -> Compiled:
        again = _generate(lowered, target, where, loops | more)
        _drop_scratch(cg, lowered.objects)
        return again

    return Compiled(fn, insns, lowered.objects, lowered.var_types, lowered.cond_types,
                    loops, cg.scratch, regenerate if target.bpf_loop else None)


def _emit_within_budget(fn: ir.Function, facts: analysis.Facts, target: Target,
                        objects: ProgramObjects, where: Loc, callback_loops: frozenset[LoopKey]
                        ) -> tuple[codegen.CodeGen, list[asm.Instruction | asm.Label],
                                   frozenset[LoopKey]]:
    """Generate the code; when its loops are more than the verifier can follow iteration
    by iteration, generate it again with the costliest loop run by bpf_loop (its body
    verified once), one loop more each time, while that helps."""
    cg, code = _emit(fn, facts, target, objects, where, callback_loops)
    hint = ""
    while True:
        over = {codegen.loop_key(loop) for b in cg.budgets if (loop := b.over()) is not None}
        if not over:
            return cg, code, callback_loops
        if not over - callback_loops or not target.bpf_loop:
            break
        kept = len(objects.scratch)
        try:
            cg2, code2 = _emit(fn, facts, target, objects, where, callback_loops | over)
        except CompileError as e:
            for m in objects.scratch[kept:]:
                m.close()
            del objects.scratch[kept:]
            hint = f"It cannot run through bpf_loop either: {e.message}"
            break
        _drop_scratch(cg, objects)
        callback_loops |= over
        cg, code = cg2, code2
    with stage("loop budget", lambda: where):
        for b in cg.budgets:
            b.check(hint)
    raise AssertionError("a loop budget over its limits passed its check")


def _drop_scratch(cg: codegen.CodeGen, objects: ProgramObjects) -> None:
    """Close the scratch value of generated code that is thrown away."""
    if cg.scratch is not None and cg.scratch.map in objects.scratch:
        cg.scratch.map.close()
        objects.scratch.remove(cg.scratch.map)


def _emit(fn: ir.Function, facts: analysis.Facts, target: Target, objects: ProgramObjects,
          where: Loc, callback_loops: frozenset[LoopKey] = frozenset()
          ) -> tuple[codegen.CodeGen, list[asm.Instruction | asm.Label]]:
    """Generate the code. When the frame needs more than the stack's 512 bytes, the biggest
    variables move to a per-CPU scratch value, one more each time, as bpftrace does with
    big strings (a program that fits the stack is generated exactly once, as before)."""
    movable = sorted((v for v in facts.variables if not v.type.is_scalar),
                     key=lambda v: -v.type.size)
    moved = 0
    scratch: Scratch | None = None
    while True:
        cg = codegen.CodeGen(fn, facts, target, scratch, callback_loops)
        try:
            with stage("emit", lambda cg=cg: cg.cur_loc if cg.cur_loc.line else where):
                return cg, cg.emit_function()
        except StackOverflowError:
            if scratch is not None:
                scratch.map.close()
                objects.scratch.remove(scratch.map)
            if moved == len(movable):
                raise  # what is left on the stack is not variables: nothing to move
            moved += 1
            scratch = _scratch(movable[:moved])
            objects.scratch.append(scratch.map)


def _scratch(variables: list[ir.Var]) -> Scratch:
    from pybpf import maps

    offsets, size = {}, 0
    for v in variables:
        offsets[id(v)] = size
        size += round8(v.type.size)
    return Scratch(offsets, size, maps.PerCPUArray(value=size, max_entries=1, name="scratch"))


__all__ = ["STAGES", "Compiled", "Lowered", "ProgramObjects", "compile", "stage"]
