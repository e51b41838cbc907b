"""`pybpf run prog.bpf.o`: load a clang-built object, attach its programs by section name,
print ring buffer and perf buffer records as they come, and the maps at exit.

    pybpf run prog.bpf.o --set target_pid=42 --set cfg.verbose=1 --duration 10

Records print decoded by a BTF struct of the object (`--event-type NAME`, or a struct called
`event` when the object has one), else as a hex dump. Ends on Ctrl-C, SIGTERM or after
`--duration` seconds.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any, TextIO

from pybpf.sys import BPFError, MapType


class RunError(BPFError):
    """Bad input to `pybpf run` (printed as one line, no traceback)."""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run", help="load, attach and watch a clang-built .bpf.o object",
        description="Load a .bpf.o object (maps, relocations, CO-RE), attach its programs "
                    "by section name, print ring/perf buffer records and the maps at exit.")
    p.add_argument("object", help="the BPF object file (clang -target bpf -O2 -g)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="set a global variable before load (.rodata options first; "
                        "NAME.MEMBER for struct members); repeatable")
    p.add_argument("-d", "--duration", type=float, default=None, metavar="SECONDS",
                   help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("-i", "--ifname", help="interface for xdp and tc programs")
    p.add_argument("--cgroup", help="cgroup (path) for cgroup programs")
    p.add_argument("--event-type", metavar="STRUCT",
                   help="decode ring/perf buffer records as this BTF struct of the object")
    p.add_argument("--skip-unsupported", action="store_true",
                   help="skip programs this kernel cannot load or attach instead of failing")
    p.add_argument("--no-maps", action="store_true", help="do not print the maps at exit")
    p.set_defaults(func=run)


def parse_value(text: str) -> Any:
    """`42`, `0x10`, `-1` -> int; `true`/`false` -> bool; anything else is a string."""
    try:
        return int(text, 0)
    except ValueError:
        pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def apply_set(obj: Any, assignment: str) -> None:
    from pybpf.elf.values import ValueRangeError

    name, sep, text = assignment.partition("=")
    if not sep or not name:
        raise RunError(f"--set needs NAME=VALUE, got {assignment!r}")
    var, _, member_path = name.partition(".")
    value = parse_value(text)
    try:
        if member_path:
            view = next((v for s, v in sorted(obj.globals.items(),
                                              key=lambda kv: not kv[0].startswith(".rodata"))
                         if var in v and s != ".kconfig"), None)
            if view is None:
                raise KeyError(f"no global variable {var!r}")
            current = view[var]
            inner = current
            parts = member_path.split(".")
            for part in parts[:-1]:
                inner = inner[part]
            if not isinstance(inner, dict) or parts[-1] not in inner:
                raise KeyError(f"{var} has no member {member_path!r}")
            inner[parts[-1]] = value
            view[var] = current
        else:
            obj.set(var, value)
    except ValueRangeError as e:  # would keep only the low bits: refuse, with the type's range
        raise RunError(f"--set {assignment}: {e.value} does not fit {name}, a {e.ctype}: "
                       f"give {e.lo} to {e.hi}") from None
    except OverflowError:  # an object without BTF: only the variable's size is known
        raise RunError(f"--set {assignment}: {value} does not fit in {name} (the object has "
                       "no BTF to say its type)") from None
    except (KeyError, ValueError, TypeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise RunError(f"--set {assignment}: {msg}") from None


def hexdump(data: bytes, indent: str = "  ") -> str:
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexs = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{indent}{off:04x}  {hexs:<47}  {text}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _event_type(obj: Any, name: str | None) -> Any:
    if obj.btf is None:
        if name:
            raise RunError(f"--event-type {name}: the object has no BTF")
        return None
    try:
        return obj.btf.find(name or "event", "struct")
    except KeyError:
        if name:
            raise RunError(f"--event-type: the object's BTF has no struct {name}") from None
        return None


class Printer:
    def __init__(self, obj: Any, event_type: Any, out: TextIO) -> None:
        self.obj, self.event_type, self.out = obj, event_type, out

    def record(self, source: str, data: bytes) -> None:
        et = self.event_type
        if et is not None and len(data) >= et.size:
            from pybpf.elf.values import decode

            fields = decode(self.obj.btf, et, data[: et.size])
            body = " ".join(f"{k}={_fmt(v)}" for k, v in fields.items())
            print(f"{source}: {body}", file=self.out)
        else:
            print(f"{source}: {len(data)} bytes\n{hexdump(data)}", file=self.out)

    def maps(self) -> None:
        shown = set()
        for spec in self.obj.map_specs.values():
            live = self.obj.maps.get(spec.name)
            if live is None or id(live) in shown or spec.readonly:
                continue
            shown.add(id(live))
            if spec.type in (MapType.RINGBUF, MapType.PERF_EVENT_ARRAY):
                continue
            if spec.kind == "data":
                view = self.obj.globals[spec.section]
                print(f"\n{spec.section}:", file=self.out)
                for name in view:
                    print(f"  {name} = {_fmt(view[name])}", file=self.out)
                continue
            print(f"\nmap {spec.name} ({MapType(spec.type).name.lower()}):", file=self.out)
            try:
                items = list(live.items())
            except (BPFError, TypeError) as e:
                print(f"  (cannot list: {e})", file=self.out)
                continue
            for k, v in items:
                if isinstance(v, bytes) and len(v) > 16:
                    print(f"  {_fmt(k)}:\n{hexdump(v, '    ')}", file=self.out)
                else:
                    print(f"  {_fmt(k)}: {_fmt(v)}", file=self.out)


def _readers(obj: Any) -> list[tuple[str, Any]]:
    out = []
    for spec in obj.map_specs.values():
        live = obj.maps[spec.name]
        if spec.type == MapType.RINGBUF:
            out.append((spec.name, live.reader()))
        elif spec.type == MapType.PERF_EVENT_ARRAY:
            out.append((spec.name, live.open_reader()))
    return out


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from pybpf.elf import Object

    out = out or sys.stdout
    obj = Object.open(args.object)
    try:
        for assignment in args.sets:
            apply_set(obj, assignment)
        event_type = _event_type(obj, args.event_type)
        obj.load(skip_unsupported=args.skip_unsupported)
        readers = _readers(obj)  # before attaching: perf buffers lose what comes earlier
        links = obj.attach_all(ifname=args.ifname, cgroup=args.cgroup,
                               skip_unsupported=args.skip_unsupported)
        for p in obj.programs.values():
            state = "attached" if p.links else f"not attached: {p.skipped or 'no target'}"
            print(f"{p.name} ({p.section.name}): {state}", file=sys.stderr)
        if not links:
            print("pybpf: warning: no program is attached", file=sys.stderr)
        printer = Printer(obj, event_type, out)
        _watch(readers, printer, args.duration)
        if not args.no_maps:
            printer.maps()
        out.flush()
        return 0
    finally:
        obj.close()


def _watch(readers: list[tuple[str, Any]], printer: Printer, duration: float | None) -> None:
    deadline = time.monotonic() + duration if duration is not None else None
    previous = signal.getsignal(signal.SIGTERM)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while deadline is None or time.monotonic() < deadline:
            left = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            if not readers:
                time.sleep(left)
                continue
            per = max(1, int(left * 1000 / len(readers)))
            for name, reader in readers:
                for rec in reader.poll(per):
                    printer.record(name, bytes(rec))
            printer.out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for name, reader in readers:  # what arrived before the end
            for rec in reader.poll(0):
                printer.record(name, bytes(rec))
