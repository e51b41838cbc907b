"""The kernel side of one run of a tool (or of one exporter group): the compiled programs, the
maps they share and the ring buffer they submit to, attached together and closed together
(also on SIGINT/SIGTERM). `Group` runs several sessions as one (pybpf snapshot)."""

from __future__ import annotations

from typing import Any, Self


class Session:
    """Owns every kernel object a tool creates. Create maps with `session.map(...)` and wrap
    compiled programs with `session.program(...)`; `attach()` attaches them all, `close()`
    detaches and closes programs, links and maps (in that order), once."""

    def __init__(self, unit: str = "events") -> None:
        self.programs: list[Any] = []
        self.maps: list[Any] = []
        self.attachments: list[Any] = []
        self.event_type: Any = None
        self.events: Any = None
        self.closed = False
        # what one ring buffer record is to the user ("opens"): the loss report counts these
        self.unit = unit
        # maps (by their name in the programs) whose refused inserts lose records: a call's
        # arguments kept from entry to exit (see map(loses=...))
        self.losing_maps: set[str] = set()

    # -- building ---------------------------------------------------------------------------
    def map(self, m: Any, loses: str | None = None) -> Any:
        """Own map `m`. `loses`: the name the programs use for it (`start` in `start[tid()] =
        ...`) when it holds what a record is built from later, as the arguments of a system
        call kept at entry for its exit: a full map that refuses an insert loses one record,
        so the loss report counts it with the records the ring buffer refused."""
        self.maps.append(m)
        if loses is not None:
            self.losing_maps.add(loses)
        return m

    def ringbuf(self, event_type: Any, size: int = 1 << 20) -> Any:
        """The ring buffer the programs submit to (`events.submit(Event(...))`), decoded as
        `event_type` by `poll()`."""
        from pybpf import maps

        self.events = self.map(maps.RingBuf(size, name="events"))
        self.event_type = event_type
        return self.events

    def program(self, prog: Any) -> Any:
        self.programs.append(prog)
        return prog

    def compile(self) -> None:
        """Compile every program now (CompileError surfaces before anything is attached)."""
        for p in self.programs:
            _ = p.insns

    def attach(self) -> Self:
        self.compile()
        try:
            for p in self.programs:
                self.attachments.append(p.attach())
        except BaseException:
            self.close()
            raise
        return self

    # -- reading ----------------------------------------------------------------------------
    def poll(self, timeout_ms: int = 100) -> list[Any]:
        """Events from the shared ring buffer, and from any program's own submit() buffer."""
        out: list[Any] = []
        if self.events is not None:
            raw = self.events.poll(timeout_ms)
            out += [self.event_type.from_bytes(r) for r in raw]
            timeout_ms = 0
        for p in self.programs:
            if getattr(p, "_compiled", None) is not None and p.events is not None:
                out += p.poll(timeout_ms)
        return out

    def stacks(self) -> Any:
        """The stack map of the first program that takes stacks."""
        for p in self.programs:
            if getattr(p, "_compiled", None) is not None and p.stacks is not None:
                return p.stacks
        return None

    def lost_events(self) -> int:
        """Events the programs could not send (their ring buffer was full)."""
        return sum(p.lost_events() for p in self.programs if hasattr(p, "lost_events"))

    def skipped_runs(self) -> int:
        """Runs of the programs the kernel skipped (another BPF program was running on the
        CPU when the event came: bpf_prog_info's recursion_misses)."""
        return sum(p.skipped_runs() for p in self.programs if hasattr(p, "skipped_runs"))

    def refused_updates(self) -> dict[str, int]:
        """Inserts the kernel refused, per map name, because the map was full."""
        out: dict[str, int] = {}
        for p in self.programs:
            if hasattr(p, "refused_updates"):
                for name, n in p.refused_updates().items():
                    out[name] = out.get(name, 0) + n
        return out

    # -- closing ----------------------------------------------------------------------------
    def close(self) -> None:
        if self.closed:
            return
        import sys

        lost = self.lost_events()
        refused = self.refused_updates()
        skipped = self.skipped_runs()
        if skipped:  # events that happened while another BPF program ran on the CPU
            print(f"pybpf: {skipped} event{'s' if skipped != 1 else ''} not seen: the kernel "
                  "skipped the tool's programs while another BPF program was running on the "
                  "same CPU", file=sys.stderr)
        if lost:  # never silently: the tool's output is missing these
            print(f"pybpf: {self._count(lost)} lost: the ring buffer was full (the tool could "
                  "not keep up)", file=sys.stderr)
        for name in sorted(self.losing_maps & refused.keys()):
            print(f"pybpf: {self._count(refused.pop(name))} lost: map '{name}' was full (more "
                  "calls in progress at once than it holds)", file=sys.stderr)
        for name, n in sorted(refused.items()):
            print(f"pybpf: {n} update{'s' if n != 1 else ''} of map '{name}' failed: the map "
                  "was full, so the results miss those keys", file=sys.stderr)
        self.closed = True
        close_concurrently(list(reversed(self.attachments)))
        self.attachments.clear()
        for p in self.programs:
            try:
                p.close()
            except Exception:  # noqa: BLE001
                pass
            compiled = getattr(p, "_compiled", None)
            if compiled is not None:
                try:
                    compiled.objects.close()
                except Exception:  # noqa: BLE001
                    pass
        for m in self.maps:
            try:
                m.close()
            except Exception:  # noqa: BLE001
                pass

    def _count(self, n: int) -> str:
        """"7811 opens were", "1 open was": `n` in the session's unit."""
        return f"{n} {self.unit} were" if n != 1 else f"1 {self.unit.removesuffix('s')} was"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Group:
    """Several sessions run as one (pybpf snapshot): attached together, polled together,
    closed together."""

    def __init__(self, *sessions: Session) -> None:
        self.sessions = list(sessions)

    def add(self, session: Session) -> Session:
        self.sessions.append(session)
        return session

    def attach(self) -> Self:
        try:
            for s in self.sessions:
                s.attach()
        except BaseException:
            self.close()
            raise
        return self

    def poll_each(self, timeout_ms: int = 0) -> list[tuple[Session, list[Any]]]:
        out = []
        for s in self.sessions:
            out.append((s, s.poll(timeout_ms)))
            timeout_ms = 0
        return out

    def close(self) -> None:
        for s in self.sessions:
            s.close()


def close_concurrently(objects: list[Any]) -> None:
    """close() each of `objects`, in threads when there are several. Detaching a tracepoint
    waits for an RCU grace period in the kernel (~70 ms here, in close(2), without the GIL):
    one after another, a tool with six tracepoints took 0.43 s to end; together the waits
    overlap. A failure to close one does not stop the others."""
    def close(obj: Any) -> None:
        try:
            obj.close()
        except Exception:  # noqa: BLE001 - keep closing the rest
            pass

    if len(objects) < 2:
        for obj in objects:
            close(obj)
        return
    import threading

    threads = [threading.Thread(target=close, args=(obj,), daemon=True) for obj in objects]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

