"""`pybpf <tool>` and `pybpf snapshot`: the subcommands of the ready tools.

Every tool gets `--json` here. Expected failures (privilege, a missing kernel feature, and a
tool whose BPF side fails to compile, which is a bug but still no traceback) print one line
and exit 1."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from pybpf import tools


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _guarded(name: str, run: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    def call(args: argparse.Namespace) -> int:
        from pybpf.btf.errors import BTFError
        from pybpf.compiler.errors import CompileError, KernelFormatError, UnknownHookError
        from pybpf.sys import BPFError

        try:
            return run(args)
        except KernelFormatError as e:  # this kernel describes an event otherwise (or damaged)
            print(f"pybpf {name}: {e.message}; this tool cannot run with this kernel's "
                  f"tracefs format of {e.event}. {e.hint}".rstrip(), file=sys.stderr)
            return 1
        except UnknownHookError as e:  # the kernel lacks a hook the tool needs: no bug
            print(f"pybpf {name}: this kernel has no {e.hook}, which this tool needs.",
                  file=sys.stderr)
            return 1
        except CompileError as e:
            print(f"pybpf {name}: internal error: the tool's BPF program does not compile: "
                  f"{e}", file=sys.stderr)
            return 1
        except (BPFError, PermissionError) as e:
            print(f"pybpf {name}: {_first_line(e)}", file=sys.stderr)
            return 1
        except BTFError as e:  # PYBPF_BTF or /sys/kernel/btf/vmlinux missing or damaged
            print(f"pybpf {name}: cannot use the kernel's BTF: {_first_line(e)}",
                  file=sys.stderr)
            return 1
        except BrokenPipeError:
            return 0

    return call


def _run_tool(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return tools.load(name).run(args)

    return run


def add_parsers(subparsers: Any) -> None:
    """Add `snapshot`, `tools` and one subcommand per tool to the `pybpf` parser's
    subparsers."""
    from pybpf.tools import catalog, snapshot

    p = subparsers.add_parser("tools", help=catalog.HELP, description=catalog.HELP)
    catalog.add_arguments(p)
    p.set_defaults(func=_guarded("tools", catalog.run))

    p = subparsers.add_parser("snapshot", help=snapshot.HELP, description=snapshot.HELP)
    snapshot.add_arguments(p)
    p.add_argument("--json", action="store_true", help="the report as one JSON object")
    p.set_defaults(func=_guarded("snapshot", snapshot.run))
    for name in tools.TOOLS:
        mod = tools.load(name)
        p = subparsers.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.add_argument("--json", action="store_true", help="one JSON object per line")
        p.set_defaults(func=_guarded(name, _run_tool(name)))
