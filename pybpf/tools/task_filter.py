"""The tools' -p/-t/-u options on the task that runs a program: `TaskTarget` is what the user
asked for, `task_filter(target)` the `@bpf.inline` test of the current task against it.

    wanted = task_filter(target)

    @bpf.tracepoint("syscalls:sys_enter_openat")
    def on_open(ctx):
        if target.given:
            if not wanted():
                return 0
        ...

`target.given` is a compile-time constant, and the compiler does not compile the body of an
`if` on a false constant: without -p/-t/-u the program has no filter code at all. (`if
target.given and not wanted()` would still reserve the inline's result on the stack.) With a
filter, the call costs 7 instructions more than the same tests written in the program: the
compiler keeps an inline's result in a stack slot and tests it after the body."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskTarget:
    """The task a tool traces: a process (tgid), a thread and/or a user; 0 (and uid -1)
    mean any."""

    pid: int = 0
    tid: int = 0
    uid: int = -1

    @property
    def given(self) -> bool:
        return bool(self.pid or self.tid or self.uid >= 0)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TaskTarget:
        """From the tool's -p/--pid, -t/--tid and -u/--uid options (those it has)."""
        uid = getattr(args, "uid", None)
        return cls(getattr(args, "pid", None) or 0, getattr(args, "tid", None) or 0,
                   -1 if uid is None else uid)


ANY_TASK = TaskTarget()


def task_filter(target: TaskTarget) -> Any:
    """The `@bpf.inline` `task_wanted()`: 1 when the current task is the target's (its
    process, thread and user, those given), 0 when the program should skip the event."""
    from pybpf import bpf, pid, tid, u64, uid

    @bpf.inline
    def task_wanted() -> u64:
        if target.pid and pid() != target.pid:
            return 0
        if target.tid and tid() != target.tid:
            return 0
        if target.uid >= 0 and uid() != target.uid:
            return 0
        return 1

    return task_wanted
