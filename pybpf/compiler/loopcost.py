"""What the verifier will walk through a program's loops, estimated from the generated code.

The verifier checks bounded loops iteration by iteration. At a conditional jump it cannot
decide it keeps the jump's target pending and goes on with the fall-through, at most 8192
pending at a time (BPF_COMPLEXITY_LIMIT_JMP_SEQ); and it processes at most 1,000,000
instructions (BPF_COMPLEXITY_LIMIT_INSNS). The estimate takes every conditional jump as
undecided except the test of a plain counter (one the verifier knows at every iteration),
walks the fall-through path of each iteration (the path the verifier follows first) and adds
the deepest excursion of one iteration once; for instructions it counts the whole body once
per iteration, a margin of about two below the kernel's count. Branches inside an iteration
also multiply the paths the verifier walks, which only the verifier counts exactly (its
prunings): past its limits the load reports the loop (api.VerifierLimitError)."""

from __future__ import annotations

from dataclasses import dataclass

from pybpf import asm
from pybpf.compiler import ir
from pybpf.compiler.errors import CompileError

LOOP_BRANCH_BUDGET = 8192
LOOP_INSN_BUDGET = 800_000

_BPF_JMP, _BPF_JMP32 = 0x05, 0x06
_BPF_JA, _BPF_CALL, _BPF_EXIT = 0x00, 0x80, 0x90
_EXIT = asm.exit().code
_JA = asm.ja(0).code


def is_cond_jump(insn: asm.Instruction | asm.Label) -> bool:
    if not isinstance(insn, asm.Instruction):
        return False
    cls, op = insn.code & 0x07, insn.code & 0xF0
    return cls in (_BPF_JMP, _BPF_JMP32) and op not in (_BPF_JA, _BPF_CALL, _BPF_EXIT)


def trips(s: ir.Loop) -> int:
    """Iterations of the loop's own bound (for a `while`, its hidden counter's)."""
    span = s.stop - s.start if s.step > 0 else s.start - s.stop
    return max(0, -(-span // abs(s.step)))


@dataclass
class LoopCost:
    """A loop's place in the code and its cost to the verifier over all iterations."""

    start: int  # index in the code of its head
    end: int  # index after its exit label
    branches: int  # the most jumps left pending at once
    along: int  # the jumps left pending by the fall-through path through all iterations
    insns: int
    loop: ir.Loop
    trips: int
    nested: bool


class LoopBudget:
    """Kept by the code generator beside its output list `out` (labels and instructions):
    told where each loop's code starts and ends, it estimates the loop's cost; `check()`
    refuses a program over the budget, at its costliest loop."""

    def __init__(self, out: list[asm.Instruction | asm.Label]) -> None:
        self.out = out
        self.regions: list[LoopCost] = []  # outermost loops so far (inner ones fold in)
        self.while_trips: dict[int, int] = {}  # id(Loop) -> iterations, where plain
        self.decided: set[int] = set()  # indices in out of jumps on a plain counter

    def plain_counter(self, s: ir.Loop, n: int) -> None:
        """The `while` loop `s` runs n times by a counter the verifier follows."""
        self.while_trips[id(s)] = min(n, trips(s))

    def counter_test(self, s: ir.Loop, since: int) -> None:
        """The jumps emitted since `since` test the loop's condition: decided when plain."""
        if id(s) in self.while_trips:
            self.decided.update(i for i in range(since, len(self.out))
                                if is_cond_jump(self.out[i]))

    def loop(self, s: ir.Loop, start: int, body_start: int, body_end: int) -> None:
        """The loop `s` was generated: head at out[start], body out[body_start:body_end],
        ending where out ends now."""
        inner = {r.start: r for r in self.regions if r.start >= start}
        self.regions = [r for r in self.regions if r.start < start]
        # the verifier goes down the fall-through path of every iteration first, keeping
        # what it passes by; the deepest excursion of one iteration comes on top, once
        along = self.fall_through_pending(body_start, body_end, inner)
        deepest = self.pending_depth(body_start, body_end, inner)
        insns = _count(self.out[start:body_end])
        insns += sum(r.insns - _count(self.out[r.start:r.end]) for r in inner.values())
        n = self.while_trips.get(id(s), trips(s))
        pending = max(0, n - 1) * along + (deepest if n else 0)
        self.regions.append(LoopCost(start, len(self.out), pending, n * along,
                                     n * (insns + 4), s, n, bool(inner)))

    def _excess(self) -> tuple[LoopCost, int, int] | None:
        """(the costliest loop, pending jumps, instructions) when the loops are more than
        the verifier can follow, else None."""
        if not self.regions:
            return None
        pending = self.pending_depth(0, len(self.out), {r.start: r for r in self.regions})
        insns = sum(r.insns for r in self.regions)
        if pending <= LOOP_BRANCH_BUDGET and insns <= LOOP_INSN_BUDGET:
            return None
        return max(self.regions, key=lambda r: (r.branches, r.insns)), pending, insns

    def over(self) -> ir.Loop | None:
        """The costliest loop when the loops are more than the verifier can follow."""
        excess = self._excess()
        return excess[0].loop if excess is not None else None

    def check(self, hint: str = "") -> None:
        """Refuse a program whose loops are more than the verifier can follow."""
        excess = self._excess()
        if excess is None:
            return
        worst, pending, insns = excess
        s = worst.loop
        what = "while loop" if s.cond is not None else "loop"
        bound = (f"up to {worst.trips} iterations" if id(s) not in self.while_trips
                 and s.cond is not None else f"{worst.trips} iterations")
        raise CompileError(
            f"this {what} ({bound}{', with the loops inside it' if worst.nested else ''}) is "
            f"too much for the verifier, which follows every iteration: about {pending} "
            f"undecided branches and {insns} instructions to check (at most "
            f"{LOOP_BRANCH_BUDGET} and {LOOP_INSN_BUDGET})", s.loc,
            hint or "Loop fewer times, move work out of the loop, or spread it over many "
            "events with a map.")

    # -- the two walks ------------------------------------------------------------------------
    def _labels(self, start: int, end: int) -> dict[str, int]:
        return {x.name: i for i in range(start, end)
                if isinstance(x := self.out[i], asm.Label)}

    def pending_depth(self, start: int, end: int, inner: dict[int, LoopCost]) -> int:
        """The most jumps the verifier may keep pending at once on a path from out[start]
        to out[end] (where a path ends, also by leaving the range or by a back edge).
        Inner loops count with all their iterations."""
        labels = self._labels(start, end)
        depth = [0] * (end - start + 1)
        for i in range(end - 1, start - 1, -1):
            x, k = self.out[i], i - start
            if i in inner:
                r = inner[i]
                depth[k] = r.branches + (depth[r.end - start] if r.end < end else 0)
            elif not isinstance(x, asm.Instruction):
                depth[k] = depth[k + 1]
            elif x.code == _EXIT:
                depth[k] = 0
            elif x.code == _JA:
                j = labels.get(x.target or "", -1)
                depth[k] = depth[j - start] if j > i else 0
            elif is_cond_jump(x):
                j = labels.get(x.target or "", -1)
                taken = depth[j - start] if j > i else 0
                if i in self.decided:
                    depth[k] = depth[k + 1]
                else:
                    depth[k] = max(1 + depth[k + 1], taken)
            else:
                depth[k] = depth[k + 1]
        return depth[0]

    def fall_through_pending(self, start: int, end: int, inner: dict[int, LoopCost]) -> int:
        """The jumps left pending along the path that always falls through."""
        labels = self._labels(start, end)
        pending, i = 0, start
        while i < end:
            x = self.out[i]
            if i in inner:
                pending += inner[i].along
                i = inner[i].end
                continue
            if isinstance(x, asm.Instruction):
                if x.code == _EXIT:
                    break
                if x.code == _JA:
                    j = labels.get(x.target or "", -1)
                    if j <= i:
                        break  # continue, break or the back edge
                    i = j
                    continue
                if is_cond_jump(x) and i not in self.decided:
                    pending += 1
            i += 1
        return pending


def _count(items: list[asm.Instruction | asm.Label]) -> int:
    return sum(1 for x in items if isinstance(x, asm.Instruction))
