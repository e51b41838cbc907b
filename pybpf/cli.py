"""The `pybpf` command: features, prog/map listings (and, as they land, tools and trace).

Expected errors (privilege, missing kernel features, bad input) print one paragraph to stderr
and exit 1; they never show a Python traceback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from pybpf.btf.errors import BTFError
from pybpf.compiler.errors import CompileError
from pybpf.sys import BPFError

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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


if __name__ == "__main__":
    sys.exit(main())
