"""The `pybpf` command: features, prog/map listings (and, as they land, tools and trace).

Expected errors (privilege, missing kernel features, bad input) print one paragraph to stderr
and exit 1; they never show a Python traceback. Failures of the surroundings are said here for
every command alike (pybpf.cli_support.failures): too few file descriptors, an unreadable
tracefs, standard output closed or full (exit 1), and a reader that left (`| head -1`: exit 0,
quietly)."""

# ruff: noqa: I001 - early_interrupt must be imported before everything else
from __future__ import annotations

# early_interrupt first, before even argparse: a Ctrl-C during the imports that follow ends
# the command quietly
from pybpf.cli_support import early_interrupt

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from pybpf.cli_support import failures

Command = Callable[[argparse.Namespace], int]


def _features(args: argparse.Namespace) -> int:
    from pybpf import features
    from pybpf.sys.errors import PRIVILEGE_HINT, BPFPermissionError, has_bpf_privilege

    if not has_bpf_privilege():  # every probe would fail and read as "not supported"
        raise BPFPermissionError(f"probing what this kernel supports loads small test "
                                 f"programs: {PRIVILEGE_HINT}.")

    report = features.collect(with_helpers=args.helpers)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    from pybpf.output_text import yes_no_table

    print("Hooks (what tracers can attach to):")
    print(yes_no_table(report.hooks))
    for hook, why in report.missing.items():
        print(f"  {hook}: {why}")
    if not report.hooks.get("tracepoint") and "tracepoint" not in report.missing:
        from pybpf.btf.tracefs import access_error

        denied = access_error()  # the kernel has tracepoints: this user cannot read tracefs
        if denied is not None:
            print(f"  tracepoint: {denied}")
    _print_capabilities(report)
    print("\nProgram types:")
    print(yes_no_table(report.prog_types))
    print("\nMap types:")
    print(yes_no_table(report.map_types))
    if report.helpers:
        for ptype, names in report.helpers.items():
            print(f"\nHelpers for {ptype} programs ({len(names)}):")
            print("  " + " ".join(names))
    else:
        print("\n(pybpf features --helpers lists the helpers each program type may call)")
    return 0


def _print_capabilities(report: object) -> None:
    """Per hook, what a user who is not root needs (and what this process lacks of it)."""
    from pybpf.sys.capabilities import NOTES

    print("\nCapabilities a non-root user needs (root has them all):")
    for hook, caps in report.capabilities.items():  # type: ignore[attr-defined]
        needs = " + ".join(caps["needs"]) or "nothing (reading /sys/kernel/btf)"
        note = f", {NOTES[hook]}" if hook in NOTES else ""
        lacking = f"   [this process lacks {', '.join(caps['lacking'])}]" \
            if caps["lacking"] else ""
        print(f"  {hook:<16} {needs}{note}{lacking}")


def _prog_list(args: argparse.Namespace) -> int:
    from pybpf.listing import prog_rows

    rows = prog_rows()
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"{'ID':>6} {'TYPE':<16} {'NAME':<16} {'TAG':<16} {'RUN_CNT':>10} "
          f"{'RUN_TIME_NS':>12} {'NS/RUN':>8} {'XLATED':>7} MAP_IDS")
    for r in rows:
        per = f"{r['run_time_ns'] / r['run_cnt']:.0f}" if r["run_cnt"] else "-"
        print(f"{r['id']:>6} {r['type']:<16} {r['name']:<16} {r['tag']:<16} {r['run_cnt']:>10} "
              f"{r['run_time_ns']:>12} {per:>8} {r['xlated_bytes']:>7} "
              f"{','.join(map(str, r['map_ids'])) or '-'}")
    return 0


def _map_list(args: argparse.Namespace) -> int:
    from pybpf.listing import map_rows

    rows = map_rows()
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"{'ID':>6} {'TYPE':<20} {'NAME':<16} {'KEY':>5} {'VALUE':>6} {'MAX_ENTRIES':>11} FLAGS")
    for r in rows:
        print(f"{r['id']:>6} {r['type']:<20} {r['name']:<16} {r['key_size']:>5} "
              f"{r['value_size']:>6} {r['max_entries']:>11} {r['flags']:#x}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pybpf", description="eBPF from Python: tracing tools, one-liners, and the "
                                  "kernel's BPF objects, with no C compiler.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("features", help="what this kernel supports (probed)")
    p.add_argument("--helpers", action="store_true", help="also probe helpers per program type")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_features)

    prog = sub.add_parser("prog", help="loaded BPF programs")
    prog_sub = prog.add_subparsers(dest="action", metavar="ACTION")
    prog_sub.required = True
    p = prog_sub.add_parser("list", aliases=["show"], help="list loaded programs")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=_prog_list)

    mp = sub.add_parser("map", help="BPF maps")
    map_sub = mp.add_subparsers(dest="action", metavar="ACTION")
    map_sub.required = True
    p = map_sub.add_parser("list", aliases=["show"], help="list maps")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=_map_list)

    from pybpf import cli_run

    cli_run.add_parser(sub)
    from pybpf import cli_tools

    cli_tools.add_parsers(sub)
    from pybpf import cli_trace

    cli_trace.add_parser(sub)
    from pybpf import cli_net

    cli_net.add_parsers(sub)
    from pybpf import cli_export

    cli_export.add_parser(sub)
    from pybpf import cli_flamegraph

    cli_flamegraph.add_parser(sub)
    return parser


def _command(args: argparse.Namespace) -> str:
    """"opensnoop", "prog list": the command as messages name it."""
    return " ".join(str(w) for w in (getattr(args, "command", None),
                                     getattr(args, "action", None)) if w)


def main(argv: Sequence[str] | None = None) -> int:
    early_interrupt.install()  # again: main() may be called more than once in a process
    # fds 0-2 kept open and stdout's failures made recognisable for the whole command,
    # argparse's --help and usage errors included
    with failures.standard_streams():
        try:
            args = _parse(build_parser(), sys.argv[1:] if argv is None else list(argv))
        except SystemExit:
            _flush_quietly()
            raise
        try:
            with failures.escalate():
                status = _run(args)
                failures.flush_stdout()  # here a failure is reported, not at exit
            return status
        except failures.CommandFailure as e:
            return failures.report(e.error, _command(args))
        finally:
            early_interrupt.install()  # a Ctrl-C as the process exits: still a quiet 130


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """parse_args, but a misspelled command gets "did you mean" (difflib) rather than the list
    of every command, and an option the command does not know prints that command's usage
    (argparse leaves unknown arguments to the top-level parser, whose usage says nothing of
    the command's options)."""
    import difflib

    current = parser
    words = iter(argv)
    while (sub := _subcommands(current)) is not None:
        # the command words come first: only -h/--help may stand before them
        word = next((w for w in words if not w.startswith("-")), None)
        if word is None:
            break
        if word not in sub.choices:
            close = difflib.get_close_matches(word, list(sub.choices), n=3)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            current.error(f"unknown command {word!r}{hint} (`{current.prog} -h` lists the "
                          "commands)")
        current = sub.choices[word]
    args, extra = parser.parse_known_args(argv)
    if extra:
        _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _innermost(parser: argparse.ArgumentParser,
               args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command `args` ran: `pybpf prog list`'s, not `pybpf`'s."""
    for dest in ("command", "action"):
        sub = _subcommands(parser)
        name = getattr(args, dest, None)
        if sub is None or name not in sub.choices:
            break
        parser = sub.choices[name]
    return parser


def _flush_quietly() -> None:
    """After argparse's --help or usage error: a stdout that cannot take the help is said
    (exit 1) rather than "Exception ignored" at exit."""
    try:
        failures.flush_stdout()
    except OSError as e:
        raise SystemExit(failures.report(e, "")) from None


def _run(args: argparse.Namespace) -> int:
    from pybpf.btf.errors import BTFError
    from pybpf.compiler.errors import CompileError
    from pybpf.sys import BPFError

    early_interrupt.release()  # the commands end on KeyboardInterrupt from here
    try:
        with failures.escalate():  # before the clauses below can word EMFILE as a BPFError
            return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (BPFError, PermissionError) as e:
        print(f"pybpf: {e}", file=sys.stderr)
        return 1
    except BTFError as e:  # PYBPF_BTF or /sys/kernel/btf/vmlinux missing or damaged
        print(f"pybpf: cannot use the kernel's BTF: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    except CompileError as e:  # a program of the user's (or a tool's) that does not compile
        print(e, file=sys.stderr)
        return 1
    except Exception as e:
        if caused_by_interrupt(e):
            return 130
        raise


def caused_by_interrupt(e: BaseException) -> bool:
    """A Ctrl-C that Python wrapped in another exception: one landing in `__set_name__`
    while a module that defines a dataclass is imported lazily becomes a RuntimeError
    whose cause is the KeyboardInterrupt."""
    for _ in range(8):
        cause = e.__cause__
        if cause is None:
            return False
        if isinstance(cause, KeyboardInterrupt):
            return True
        e = cause
    return False


if __name__ == "__main__":
    sys.exit(main())
