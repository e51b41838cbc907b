"""`pybpf tools`: every tool with its one-line description and whether this kernel has the
hooks it needs (its NEEDS, probed: tracefs for tracepoints, BTF for raw tracepoints, the
program types for perf events, uprobes and kernel functions).

A tool's NEEDS names what it attaches to: "tp:group:name" (any of "tp:a:b|c:d"), "raw:name",
"perf", "uprobe", "kfunc" (fentry or kprobes). Tools that prefer kernel functions but fall back
to tracepoints (tcpconnect, tcpaccept, oomkill) name their tracepoints."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.tools import TOOLS, load

HELP = "list the tools, one line each, and whether this kernel supports them"


def needs(name: str) -> tuple[str, ...]:
    """The hooks tool `name` declares (its module's NEEDS)."""
    return tuple(load(name).NEEDS)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def _tracefs_missing() -> str | None:
    """Why tracepoints cannot be used, None when they can."""
    from pybpf.btf.tracefs import TracefsAccessError, tracefs_root

    try:
        tracefs_root()  # mounts tracefs when it can
    except TracefsAccessError:  # the kernel has them: this user may not read tracefs
        return "tracefs is not readable by this user"
    except OSError:  # (TracefsError is one) then tracepoints are reported missing
        return "no tracepoints"
    return None


class Checker:
    """Answers "is this hook here?" with a reason when not; cached per hook."""

    def __init__(self) -> None:
        from pybpf import features

        self.hooks = features.hooks()
        self.tracefs_missing = _tracefs_missing()
        self._btf: Any = None

    def _raw(self, name: str) -> bool:
        if self._btf is None:
            from pybpf.btf import kernel_btf

            self._btf = kernel_btf()
        try:
            self._btf.find(f"btf_trace_{name}", kind="typedef")
            return True
        except Exception:  # noqa: BLE001 - not in BTF
            return False

    def missing(self, need: str) -> str | None:
        kind, _, what = need.partition(":")
        if kind == "tp":
            from pybpf.btf.tracefs import tracepoint_exists

            if self.tracefs_missing:
                return self.tracefs_missing
            if not self.hooks.get("tracepoint"):
                return "no tracepoints"
            if any(tracepoint_exists(alt) for alt in what.split("|")):
                return None
            return f"no tracepoint {what.split('|')[0]}"
        if kind == "raw":
            if not self.hooks.get("raw_tracepoint"):
                return "no raw tracepoints"
            return None if self._raw(what) else f"no raw tracepoint {what}"
        if kind == "perf":
            return None if self.hooks.get("perf_event") else "no perf events"
        if kind == "uprobe":
            return None if self.hooks.get("uprobe") else "no uprobes"
        if kind == "kfunc":
            return None if self.hooks.get("fentry") or self.hooks.get("kprobe") else \
                "no fentry or kprobes"
        return f"unknown need {need}"


def rows() -> list[dict[str, Any]]:
    checker = Checker()
    out = []
    for name in TOOLS:
        # each reason once ("no tracepoints" for two needs says it twice otherwise)
        reasons = list(dict.fromkeys(r for need in needs(name) if (r := checker.missing(need))))
        out.append({"tool": name, "description": load(name).HELP, "supported": not reasons,
                    "missing": reasons})
    return out


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    table = rows()
    if args.json:
        for r in table:
            jsonl.emit(r)
        return 0
    width = max(len(r["tool"]) for r in table)
    print(f"{'TOOL':<{width}}  {'HERE':<4} DESCRIPTION")
    for r in table:
        line = f"{r['tool']:<{width}}  {'yes' if r['supported'] else 'no':<4} {r['description']}"
        if r["missing"]:
            line += f" ({'; '.join(r['missing'])})"
        print(line)
    return 0
