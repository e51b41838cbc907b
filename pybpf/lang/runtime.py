"""Running a compiled program: load every probe, run BEGIN, attach, read the ring buffer and
format records, stop on exit()/Ctrl-C/end of the -c command, run END, print the maps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from pybpf.lang.compile import CompiledProbe, Compiler
from pybpf.lang.errors import LangError
from pybpf.lang.printer import Formatter, MapPrinter
from pybpf.lang.semantic import Record
from pybpf.lang.types import decode, tuple_layout
from pybpf.sys import BPFError


def where(p: Any, pid: int = -1) -> dict[str, Any]:
    """The hook target of probe `p` (see pybpf.compiler.hooks)."""
    if p.kind == "tracepoint":
        return {"group": p.target, "name": p.name}
    if p.kind == "rawtracepoint":
        return {"name": p.name}
    if p.kind in ("profile", "interval"):
        rate = {"sample_freq": p.freq} if p.freq else {"sample_period": p.period}
        cpus = {"cpus": [0]} if p.kind == "interval" else {}
        return {"type": "software", "config": "cpu-clock", **rate, **cpus}
    if p.kind in ("software", "hardware"):
        return {"type": p.kind, "config": p.target, "sample_period": p.period}
    if p.kind in ("kprobe", "kretprobe"):
        return {"target": (f"{p.target}:" if p.target else "") + p.name +
                          (f"+{p.offset}" if p.offset else "")}
    if p.kind in ("kfunc", "kretfunc"):
        return {"function": f"{p.target}:{p.name}" if p.target else p.name}
    if p.kind in ("uprobe", "uretprobe"):
        return {"path": p.target, "symbol": p.name, **({"pid": pid} if pid > 0 else {})}
    if p.kind == "usdt":  # one site: each reads its arguments its own way
        return {"path": p.target, "provider": p.provider, "name": p.name, "sites": [p.site],
                **({"pid": pid} if pid > 0 else {})}
    return {}


def _cat_bytes_max() -> int:
    """What cat() prints of a file at most: bpftrace's BPFTRACE_CAT_BYTES_MAX (10240)."""
    try:
        return max(0, int(os.environ.get("BPFTRACE_CAT_BYTES_MAX", "10240")))
    except ValueError:
        return 10240


def load(cp: CompiledProbe) -> Any:
    from pybpf.compiler import hooks
    from pybpf.compiler.errors import VerifierLimitError
    from pybpf.compiler.rejection import load_retrying, verifier_rejection
    from pybpf.sys import VerifierError

    name = "".join(c if c.isalnum() else "_" for c in cp.probe.kind)[:15]

    def load_code(insns: list[Any]) -> Any:
        return hooks.load(cp.probe.hook_kind, insns, name, **where(cp.probe))

    def replaced(again: Any) -> None:
        cp.compiled, cp.insns = again, again.insns

    try:
        if cp.compiled is None:
            return load_code(cp.insns)
        return load_retrying(cp.compiled, load_code, replaced)
    except VerifierError as e:
        err = verifier_rejection(e, cp.insns, cp.fn)
        hint = err.hint if isinstance(err, VerifierLimitError) else (
            err.hint + "\n" + "\n".join(e.log.splitlines()[-6:]))
        raise LangError(err.message, err.loc if err.loc.line else cp.tree.loc, hint) from None


def attach(cp: CompiledProbe, prog: Any, pid: int = -1) -> Any:
    from pybpf.compiler import hooks

    return hooks.attach(cp.probe.hook_kind, prog, **where(cp.probe, pid))


class Session:
    def __init__(self, comp: Compiler, out: TextIO, as_json: bool = False, quiet: bool = False,
                 pid: int = -1, child: Callable[[], int] | None = None,
                 child_proc: Any = None) -> None:
        self.comp, self.out, self.json, self.quiet = comp, out, as_json, quiet
        self.pid = pid
        self.child_proc = child_proc
        self.release_child = child
        self.stopped = False
        self.progs: list[tuple[CompiledProbe, Any]] = []
        self.links: list[Any] = []
        self.records = {r.id: r for r in comp.syms.records}
        stacks = comp._stacks.obj if comp._stacks is not None else None
        self.fmt = Formatter(comp.names, stacks)
        self.maps = MapPrinter(self.fmt, self.write, as_json)
        self.join_parts: list[str] = []
        self.lost_seen = 0  # ring buffer records reported lost so far
        self.full_seen: set[str] = set()  # maps reported full so far
        self.checked = 0.0

    def write(self, text: str) -> None:
        self.out.write(text)

    def emit(self, kind: str, text: str) -> None:
        if self.json:
            self.write(json.dumps({"type": kind, "data": text}) + "\n")
        else:
            self.write(text)

    # -- records -----------------------------------------------------------------------------------
    def handle(self, raw: bytes) -> None:
        rid = int.from_bytes(raw[:8], "little")
        rec = self.records.get(rid)
        if rec is None or self.stopped:
            return
        args = [(lt, decode(lt, raw, off)) for lt, off in zip(
            rec.args, tuple_layout(rec.lt.items)[1:], strict=True)]
        self.dispatch(rec, args)

    def dispatch(self, rec: Record, args: list[tuple[Any, Any]]) -> None:
        k = rec.kind
        if k == "printf":
            self.emit("printf", self.fmt.printf(rec.fmt, args))
        elif k == "exit":
            self.stopped = True
        elif k == "time":
            self.emit("time", time.strftime(rec.fmt))
        elif k == "print":
            name, top, div = rec.extra
            info = self.comp.syms.maps.get(name)
            if info is not None and info.ref is not None:
                self.maps.print_map(info, top, div)
        elif k == "print_value":
            lt, v = args[0]
            self.emit("value", self.fmt.value(lt, v) + "\n")
        elif k in ("clear", "zero"):
            info = self.comp.syms.maps.get(rec.extra)
            if info is not None and info.ref is not None and info.ref.obj is not None:
                m = info.ref.obj
                if k == "clear":
                    m.clear()
                    self.maps.cleared.add(info.name)
                else:
                    for key in list(m.raw_keys()):
                        m.update_raw(key, bytes(info.ref.value.size))
        elif k == "system":
            self.out.flush()
            cmd = self.fmt.printf(rec.fmt, args)
            res = subprocess.run(cmd, shell=True, capture_output=True, text=True)
            self.emit("system", res.stdout)
        elif k == "cat":
            path = self.fmt.printf(rec.fmt, args)
            try:
                with open(path, errors="replace") as f:
                    self.emit("cat", f.read(_cat_bytes_max()))
            except OSError as e:
                print(f"ERROR: failed to open file '{path}': {e.strerror}", file=sys.stderr)
        elif k == "join":
            self.join_parts.append(str(args[0][1]))
        elif k == "join_end":
            self.emit("join", rec.fmt.join(self.join_parts) + "\n")
            self.join_parts = []

    def drain(self) -> None:
        ev = self.comp._events
        if ev is None or ev.obj is None:
            return
        for raw in ev.obj.poll(0):
            self.handle(raw)
            if self.stopped:
                break

    def attach_one(self, cp: Any, prog: Any) -> None:
        try:
            self.links.append(attach(cp, prog, self.pid))
        except BPFError as e:
            # as bpftrace: one attach point of several (a wildcard's function, or one of a
            # probe's list `kprobe:a, kprobe:b`) that cannot attach is skipped with a warning
            if not cp.probe.wild and len(cp.tree.specs) < 2:
                raise
            self.skip(cp, e)

    def run_once(self, kind: str) -> None:
        for cp, prog in self.progs:
            if cp.probe.kind == kind:
                prog.test_run(ctx=bytes(8))
                self.drain()

    # -- the session -------------------------------------------------------------------------------
    def run(self) -> int:
        comp = self.comp
        _more_files(3 * len(comp.compiled) + 64)
        try:
            for cp in comp.compiled:
                try:
                    self.progs.append((cp, load(cp)))
                except (BPFError, LangError) as e:
                    if not cp.probe.wild:  # one function of a wildcard may be untraceable
                        raise
                    self.skip(cp, e)
            if not self.progs and comp.compiled:
                raise LangError("no probes to attach: every function the wildcard matched "
                                "was refused", comp.compiled[0].tree.loc)
            n = len(self.progs)
            if not self.quiet:
                msg = f"Attaching {n} probe{'s' if n != 1 else ''}..."
                # on the output, as bpftrace prints it (with -o, into the file)
                if self.json:
                    self.write(json.dumps({"type": "attached_probes", "data": {"probes": n}})
                               + "\n")
                else:
                    self.write(msg + "\n")
                self.out.flush()
            # As bpftrace: every probe is attached before BEGIN runs, so that what BEGIN
            # prints ("Tracing... Hit Ctrl-C") is true when it appears and nothing a user
            # starts on seeing it is missed.
            # Interval timers start right after BEGIN, as in bpftrace: `BEGIN { @start =
            # nsecs } interval:s:1 { ... }` sees a whole second.
            live = [(cp, p) for cp, p in self.progs if cp.probe.kind not in ("BEGIN", "END")]
            timers = [(cp, p) for cp, p in live if cp.probe.kind == "interval"]
            for cp, prog in [x for x in live if x not in timers]:
                self.attach_one(cp, prog)
            self.run_once("BEGIN")
            for cp, prog in timers:
                self.attach_one(cp, prog)
            if self.release_child is not None:
                self.release_child()
            # a script with event probes waits for them (or Ctrl-C) even when this kernel
            # or binary has none of them, as bpftrace does (threadsnoop.bt on a libpthread
            # without pthread_create)
            from pybpf.lang.probes import spec_kind

            waits = any(spec_kind(spec.text)[0] not in ("BEGIN", "END")
                        for tree in self.comp.tree.probes for spec in tree.specs)
            if live or waits or self.child_proc is not None:
                self.loop()
            from pybpf.session import close_concurrently

            close_concurrently(self.links)  # the kernel's waits per tracepoint overlap
            self.links.clear()
            self.drain()  # what the probes sent before they were detached
            self.stopped = False
            self.run_once("END")
            self.finish()
        finally:
            for link in self.links:
                link.close()
            for _, prog in self.progs:
                prog.close()
            if self.child_proc is not None and self.child_proc.poll() is None:
                self.child_proc.terminate()
        return 0

    def skip(self, cp: CompiledProbe, e: Exception) -> None:
        what = e.message if isinstance(e, LangError) else str(e)
        print(f"WARNING: could not attach probe {cp.probe.full_name} "
              f"({what.splitlines()[0]}), skipping.", file=sys.stderr)

    def loop(self) -> None:
        ev = self.comp._events
        interrupted = False

        def on_signal(signum: int, frame: Any) -> None:
            nonlocal interrupted
            interrupted = True

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not self.stopped and not interrupted:
                if ev is not None and ev.obj is not None:
                    for raw in ev.obj.poll(100):
                        self.handle(raw)
                        if self.stopped:
                            break
                else:
                    time.sleep(0.1)
                self.check_refused()
                self.out.flush()
                if self.child_proc is not None and self.child_proc.poll() is not None:
                    self.drain()
                    break
                if self.pid > 0 and not os.path.exists(f"/proc/{self.pid}"):
                    break
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def check_refused(self, final: bool = False) -> None:
        """Say what the kernel refused, as it happens (at most once a second) and at the end:
        records lost because the ring buffer was full (bpftrace's "Lost N events"), and
        updates of full maps. Nothing is dropped silently."""
        now = time.monotonic()
        if not final and now - self.checked < 1.0:
            return
        self.checked = now
        maps, lost = self.comp.refused()
        if lost > self.lost_seen:
            n, self.lost_seen = lost - self.lost_seen, lost
            if self.json:
                self.write(json.dumps({"type": "lost_events", "data": {"events": n}}) + "\n")
            else:
                self.write(f"Lost {n} events\n")
        from pybpf.lang.compile import MAX_ENTRIES

        for name, n in sorted(maps.items()):
            if final:
                print(f"Warning: {n} update{'s' if n != 1 else ''} of {name} failed: the map "
                      f"is full ({MAX_ENTRIES} entries); its contents below are incomplete",
                      file=sys.stderr)
            elif name not in self.full_seen:
                print(f"Warning: {name} is full ({MAX_ENTRIES} entries): new keys are refused",
                      file=sys.stderr)
            self.full_seen.add(name)

    def finish(self) -> None:
        self.check_refused(final=True)
        skipped = sum(prog.stats().recursion_misses for _, prog in self.progs
                      if not prog.closed)
        if skipped:  # runs that never happened: nothing of them is in the maps below
            print(f"Warning: {skipped} probe run{'s' if skipped != 1 else ''} skipped by the "
                  "kernel: another BPF program was running on the same CPU", file=sys.stderr)
        if not self.json:
            self.write("\n\n")
        for name in sorted(self.comp.syms.maps):
            info = self.comp.syms.maps[name]
            if info.ref is None or info.ref.obj is None:
                continue
            self.maps.print_map(info)
        self.out.flush()


def _more_files(needed: int) -> None:
    """Raise the soft limit on open files (a wildcard's hundreds of programs, perf events and
    links) up to the hard limit when the default 1024 is too few."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if new > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
