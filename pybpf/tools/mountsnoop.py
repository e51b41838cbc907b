"""mountsnoop: trace mount() and umount() system calls (syscalls:sys_enter/exit_mount and
_umount), with bcc's columns: the call is printed as C would write it, with its result. Joined
in the kernel as libbpf-tools' mountsnoop does: the entry keeps the arguments by thread, the
exit reads the strings and sends one event per call, so that losses count calls."""

from __future__ import annotations

import argparse
import errno
import time
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace mount() and umount() syscalls"
NEEDS = ("tp:syscalls:sys_enter_mount", "tp:syscalls:sys_enter_umount")
MOUNT, UMOUNT = 0, 1
# include/uapi/linux/mount.h
MS_FLAGS = [("MS_RDONLY", 1), ("MS_NOSUID", 2), ("MS_NODEV", 4), ("MS_NOEXEC", 8),
            ("MS_SYNCHRONOUS", 16), ("MS_REMOUNT", 32), ("MS_MANDLOCK", 64),
            ("MS_DIRSYNC", 128), ("MS_NOSYMFOLLOW", 256), ("MS_NOATIME", 1024),
            ("MS_NODIRATIME", 2048), ("MS_BIND", 4096), ("MS_MOVE", 8192),
            ("MS_REC", 16384), ("MS_SILENT", 32768), ("MS_POSIXACL", 1 << 16),
            ("MS_UNBINDABLE", 1 << 17), ("MS_PRIVATE", 1 << 18), ("MS_SLAVE", 1 << 19),
            ("MS_SHARED", 1 << 20), ("MS_RELATIME", 1 << 21), ("MS_KERNMOUNT", 1 << 22),
            ("MS_I_VERSION", 1 << 23), ("MS_STRICTATIME", 1 << 24), ("MS_LAZYTIME", 1 << 25)]
UMOUNT_FLAGS = [("MNT_FORCE", 1), ("MNT_DETACH", 2), ("MNT_EXPIRE", 4),
                ("UMOUNT_NOFOLLOW", 8)]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    runner.add_duration(p)


def build(target: TaskTarget = ANY_TASK, ring_size: int = 1 << 18,
          max_calls: int = 10240) -> Session:
    """Entry programs for mount and umount, which keep the arguments in `start` by thread
    (only the target's: -p applies here), and exit programs, which take them out and submit
    one event with the result. `ring_size` and `max_calls` (the ring buffer's size and how
    many calls may be in progress at once) let tests make them overflow."""
    from pybpf import bpf, comm, current_task, maps, pid, s64, tid, u32, u64

    class Event(bpf.Struct):
        call: u32
        pid: u32
        tid: u32
        mnt_ns: u32
        flags: u64
        ret: s64
        comm: "char[16]"  # noqa: F821, UP037
        source: "char[128]"  # noqa: F821, UP037
        target: "char[128]"  # noqa: F821, UP037
        fstype: "char[32]"  # noqa: F821, UP037
        data: "char[64]"  # noqa: F821, UP037

    class Start(bpf.Struct):
        # the user's pointers: the strings are read at exit, as libbpf-tools does; the kernel
        # has read them by then, so their pages are present (a tracepoint cannot fault a page
        # in)
        source: u64
        target: u64
        fstype: u64
        data: u64
        flags: u64

    s = Session(unit="mount and umount calls")
    events = s.ringbuf(Event, ring_size)
    start = s.map(maps.Hash(key=u32, value=Start, max_entries=max_calls, name="mount_start"),
                  loses="start")
    wanted = task_filter(target)

    @bpf.tracepoint("syscalls:sys_enter_mount")
    def mountsnoop_mount(ctx):
        if target.given:
            if not wanted():
                return 0
        start[tid()] = Start(source=u64(ctx.dev_name), target=u64(ctx.dir_name),
                             fstype=u64(ctx.type), data=u64(ctx.data), flags=ctx.flags)
        return 0

    @bpf.tracepoint("syscalls:sys_enter_umount")
    def mountsnoop_umount(ctx):
        if target.given:
            if not wanted():
                return 0
        start[tid()] = Start(target=u64(ctx.name), flags=u64(ctx.flags))
        return 0

    @bpf.tracepoint("syscalls:sys_exit_mount")
    def mountsnoop_mount_ret(ctx):
        t = tid()
        if t not in start:  # not the target's, or begun before tracing
            return 0
        a = start[t]
        del start[t]
        ev = Event(call=MOUNT, pid=pid(), tid=t, flags=a.flags, ret=s64(ctx.ret), comm=comm(),
                   mnt_ns=current_task().nsproxy.mnt_ns.ns.inum)
        ev.source = user_str(a.source, 128)  # noqa: F821 - a pybpf builtin
        ev.target = user_str(a.target, 128)  # noqa: F821
        ev.fstype = user_str(a.fstype, 32)  # noqa: F821
        ev.data = user_str(a.data, 64)  # noqa: F821
        events.submit(ev)
        return 0

    @bpf.tracepoint("syscalls:sys_exit_umount")
    def mountsnoop_umount_ret(ctx):
        t = tid()
        if t not in start:
            return 0
        a = start[t]
        del start[t]
        events.submit(Event(call=UMOUNT, pid=pid(), tid=t, flags=a.flags, ret=s64(ctx.ret),
                            comm=comm(), mnt_ns=current_task().nsproxy.mnt_ns.ns.inum,
                            target=user_str(a.target, 128)))  # noqa: F821
        return 0

    # the exits first: an entry kept before its exit is attached would stay in `start`
    for prog in (mountsnoop_mount_ret, mountsnoop_umount_ret, mountsnoop_mount,
                 mountsnoop_umount):
        s.program(prog)
    return s


def flags_text(flags: int, table: list[tuple[str, int]]) -> str:
    names = [n for n, bit in table if flags & bit]
    rest = flags & ~sum(bit for _, bit in table)
    if rest or not names:
        names.append(hex(rest))
    return "|".join(names)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def result_text(ret: int) -> str:
    if ret >= 0:
        return str(ret)
    name = errno.errorcode.get(-ret, str(-ret))
    return f"-{name}"


def call_text(entry: Any, ret: int) -> str:
    """`mount("none", "/mnt", "tmpfs", MS_NOSUID, "size=1m") = 0`, as bcc prints it."""
    target = _quote(runner.text(entry.target))
    if entry.call == UMOUNT:
        return f"umount({target}, {flags_text(entry.flags, UMOUNT_FLAGS)}) = {result_text(ret)}"
    return (f"mount({_quote(runner.text(entry.source))}, {target}, "
            f"{_quote(runner.text(entry.fstype))}, {flags_text(entry.flags, MS_FLAGS)}, "
            f"{_quote(runner.text(entry.data))}) = {result_text(ret)}")


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(TaskTarget.from_args(args))
    start = time.monotonic()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = runner.cols("%-14s ", "TIME(s)") if args.timestamp else ""
        print(head + runner.cols("%-16s %-7s %-7s %-11s %s", "COMM", "PID", "TID", "MNT_NS",
                                 "CALL"), flush=True)

    def handle(ev: Any) -> None:
        comm = runner.text(ev.comm)
        if args.json:
            obj: dict[str, Any] = {"ts": round(time.monotonic() - start, 6), "comm": comm,
                                   "pid": ev.pid, "tid": ev.tid, "mnt_ns": ev.mnt_ns,
                                   "call": "umount" if ev.call == UMOUNT else "mount",
                                   "target": runner.text(ev.target), "flags": ev.flags,
                                   "ret": ev.ret, "text": call_text(ev, ev.ret)}
            if ev.call == MOUNT:
                obj.update(source=runner.text(ev.source), fstype=runner.text(ev.fstype),
                           data=runner.text(ev.data))
            jsonl.emit(obj)
            return
        line = runner.cols("%-14.9f ", time.monotonic() - start) if args.timestamp else ""
        print(line + runner.cols("%-16s %-7d %-7d %-11d %s", comm, ev.pid, ev.tid,
                                 ev.mnt_ns, call_text(ev, ev.ret)), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
