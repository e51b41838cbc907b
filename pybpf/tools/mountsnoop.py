"""mountsnoop: trace mount() and umount() system calls (syscalls:sys_enter/exit_mount and
_umount), with bcc's columns: the call is printed as C would write it, with its result."""

from __future__ import annotations

import argparse
import errno
import time
from typing import Any

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
    p.add_argument("-p", "--pid", type=int, help="trace this PID only")
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    runner.add_duration(p)


def build(target: TaskTarget = ANY_TASK) -> Session:
    from pybpf import bpf, comm, current_task, pid, s64, tid, u32, u64

    class Event(bpf.Struct):
        kind: u32
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

    s = Session()
    events = s.ringbuf(Event, 1 << 18)
    wanted = task_filter(target)

    @bpf.tracepoint("syscalls:sys_enter_mount")
    def mountsnoop_mount(ctx):
        if target.given:
            if not wanted():
                return 0
        ev = Event(kind=0, call=MOUNT, pid=pid(), tid=tid(), flags=ctx.flags, comm=comm(),
                   mnt_ns=current_task().nsproxy.mnt_ns.ns.inum)
        ev.source = str(ctx.dev_name, 128)
        ev.target = str(ctx.dir_name, 128)
        ev.fstype = str(ctx.type, 32)
        ev.data = user_str(ctx.data, 64)  # noqa: F821 - a pybpf builtin
        events.submit(ev)
        return 0

    @bpf.tracepoint("syscalls:sys_enter_umount")
    def mountsnoop_umount(ctx):
        if target.given:
            if not wanted():
                return 0
        events.submit(Event(kind=0, call=UMOUNT, pid=pid(), tid=tid(), flags=u64(ctx.flags),
                            comm=comm(), mnt_ns=current_task().nsproxy.mnt_ns.ns.inum,
                            target=str(ctx.name, 128)))
        return 0

    @bpf.tracepoint("syscalls:sys_exit_mount")
    def mountsnoop_mount_ret(ctx):
        if target.given:
            if not wanted():
                return 0
        events.submit(Event(kind=1, call=MOUNT, pid=pid(), tid=tid(), ret=s64(ctx.ret)))
        return 0

    @bpf.tracepoint("syscalls:sys_exit_umount")
    def mountsnoop_umount_ret(ctx):
        if target.given:
            if not wanted():
                return 0
        events.submit(Event(kind=1, call=UMOUNT, pid=pid(), tid=tid(), ret=s64(ctx.ret)))
        return 0

    for prog in (mountsnoop_mount, mountsnoop_umount, mountsnoop_mount_ret,
                 mountsnoop_umount_ret):
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
    calls = runner.CallPairs()
    start = time.monotonic()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = runner.cols("%-14s ", "TIME(s)") if args.timestamp else ""
        print(head + runner.cols("%-16s %-7s %-7s %-11s %s", "COMM", "PID", "TID", "MNT_NS",
                                 "CALL"), flush=True)

    def handle(ev: Any) -> None:
        entry = calls.entry_of(ev)
        if entry is None:
            return
        comm = runner.text(entry.comm)
        if args.json:
            obj: dict[str, Any] = {"ts": round(time.monotonic() - start, 6), "comm": comm,
                                   "pid": entry.pid, "tid": entry.tid, "mnt_ns": entry.mnt_ns,
                                   "call": "umount" if entry.call == UMOUNT else "mount",
                                   "target": runner.text(entry.target), "flags": entry.flags,
                                   "ret": ev.ret, "text": call_text(entry, ev.ret)}
            if entry.call == MOUNT:
                obj.update(source=runner.text(entry.source), fstype=runner.text(entry.fstype),
                           data=runner.text(entry.data))
            jsonl.emit(obj)
            return
        line = runner.cols("%-14.9f ", time.monotonic() - start) if args.timestamp else ""
        print(line + runner.cols("%-16s %-7d %-7d %-11d %s", comm, entry.pid, entry.tid,
                                 entry.mnt_ns, call_text(entry, ev.ret)), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
