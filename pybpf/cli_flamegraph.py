"""`pybpf flamegraph`: folded stacks from any tool (flamegraph.pl's format: "a;b;c count"
per line; `profile -f`, `offcputime -f`, perf + stackcollapse, bpftrace) to a flame graph SVG,
and differential flame graphs between two profiles (difffolded.pl's idea: the second
profile's widths, red where a frame grew, blue where it shrank).

  pybpf flamegraph out.folded > cpu.svg
  pybpf flamegraph --diff before.folded after.folded -o diff.svg
  pybpf flamegraph before.folded --diff after.folded --normalize -o diff.svg
  pybpf offcputime -f 5 | pybpf flamegraph --palette offcpu --title "Off-CPU" - > off.svg
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

HELP = "draw a flame graph SVG from folded stacks (flamegraph.pl's input), or a diff of two"


def _width(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of pixels") from None
    if not 200 <= n <= 100000:
        raise argparse.ArgumentTypeError(f"width {n} is outside 200..100000 pixels")
    return n


def add_parser(subparsers: Any) -> None:
    from pybpf.output.svg import PALETTES

    p = subparsers.add_parser("flamegraph", help=HELP, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="folded stacks ('-' or nothing: standard input); with --diff the "
                   "before and after profiles")
    p.add_argument("--diff", action="store_true",
                   help="differential graph of two folded files: BEFORE AFTER (a single "
                   "file of 'stack before after' lines, difffolded.pl's output, is one too)")
    p.add_argument("--normalize", action="store_true",
                   help="with --diff: scale the before profile to the after profile's total")
    p.add_argument("--negate", action="store_true",
                   help="with --diff: draw the before profile's widths, hues swapped (shows "
                   "what disappeared)")
    p.add_argument("--title", default=None, help="the title (default: Flame Graph / "
                   "Differential Flame Graph)")
    p.add_argument("--subtitle", default="", help="a second line under the title")
    p.add_argument("--width", type=_width, default=1200, help="image width in pixels")
    p.add_argument("--palette", "--colors", dest="palette", choices=PALETTES, default="hot",
                   help="frame colours: hot (CPU), offcpu (blue), io, mem, java or python "
                   "(by frame kind: kernel, interpreted/JIT, inlined, C++, native)")
    p.add_argument("--inverted", action="store_true",
                   help="icicle graph: root at the top, stacks growing down")
    p.add_argument("--reverse", action="store_true",
                   help="reverse each stack (leaf first becomes root first)")
    p.add_argument("--countname", default="samples",
                   help="what the counts are, for hover text (samples, us, bytes...)")
    p.add_argument("-o", "--output", metavar="SVG", help="write here (default: stdout)")
    p.set_defaults(func=run)


class InputError(Exception):
    pass


def _read(path: str) -> tuple[dict[str, tuple[float, float | None]], str]:
    from pybpf.output.flamegraph import parse_folded_lines

    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
    except OSError as e:
        raise InputError(f"cannot read {name}: {e.strerror or e}") from None
    lines, ignored = parse_folded_lines(text)
    if ignored:
        print(f"pybpf flamegraph: ignored {len(ignored)} line(s) of {name} that are not "
              f"'stack count' (first: line {ignored[0]})", file=sys.stderr)
    if not any(a > 0 or (b or 0) > 0 for a, b in lines.values()):
        raise InputError(f"{name} has no folded stacks ('frame;frame;frame count' lines "
                         "with a positive count)")
    return lines, name


def _reversed(d: dict[str, float], on: bool) -> dict[str, float]:
    if not on:
        return d
    out: dict[str, float] = {}
    for stack, n in d.items():
        key = ";".join(reversed(stack.split(";")))
        out[key] = out.get(key, 0) + n
    return out


def run(args: argparse.Namespace) -> int:
    from pybpf.output.flamegraph import diff_folded, flamegraph_svg

    files = args.files or ["-"]
    try:
        if len(files) > 2 or (len(files) == 2 and not args.diff):
            raise InputError("give one folded file (or two with --diff: BEFORE AFTER)")
        if files.count("-") > 1:
            raise InputError("standard input can be only one of the two files")
        parsed = [_read(f) for f in files]
        baseline: dict[str, float] | None = None
        if len(parsed) == 2:
            before = {s: b if b is not None else a for s, (a, b) in parsed[0][0].items()}
            after = {s: b if b is not None else a for s, (a, b) in parsed[1][0].items()}
            pairs = diff_folded(before, after, args.normalize)
        elif any(b is not None for _, b in parsed[0][0].values()):
            pairs = {s: (a, b if b is not None else a) for s, (a, b) in parsed[0][0].items()}
            if args.normalize:
                pairs = diff_folded({s: a for s, (a, _) in pairs.items()},
                                    {s: b for s, (_, b) in pairs.items()}, True)
        elif args.diff:
            raise InputError("--diff needs two folded files (BEFORE AFTER) or one file of "
                             "'stack before after' lines")
        else:
            pairs = None
            folded = {s: a for s, (a, _) in parsed[0][0].items()}
        if pairs is not None:
            first, second = (1, 0) if args.negate else (0, 1)
            baseline = _reversed({s: p[first] for s, p in pairs.items()}, args.reverse)
            folded = {s: p[second] for s, p in pairs.items()}
        folded = _reversed(folded, args.reverse)
        title = args.title or ("Differential Flame Graph" if baseline is not None
                               else "Icicle Graph" if args.inverted else "Flame Graph")
        text = flamegraph_svg(folded, title, args.countname, palette=args.palette,
                              width=args.width, inverted=args.inverted,
                              subtitle=args.subtitle, baseline=baseline, negate=args.negate)
        if args.output:
            try:
                with open(args.output, "w") as f:
                    f.write(text)
            except OSError as e:
                raise InputError(f"cannot write {args.output}: {e.strerror or e}") from None
        else:
            sys.stdout.write(text)
    except InputError as e:
        print(f"pybpf flamegraph: {e}", file=sys.stderr)
        return 1
    return 0
