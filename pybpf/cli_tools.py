"""`pybpf <tool>` and `pybpf snapshot`: the subcommands of the ready tools.

Every tool gets `--json` here. Expected failures (privilege, a missing kernel feature, and a
tool whose BPF side fails to compile, which is a bug but still no traceback) print one line
and exit 1; those of the surroundings (too few file descriptors, stdout, an unreadable
tracefs) are left to pybpf.cli's main, which words them alike for every command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from pybpf import tools


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _missing_hook(hook: str) -> str:
    """Why a hook the tool needs is not there: the kernel lacks it, or (for a tracepoint)
    there is no tracefs to find it in, e.g. PYBPF_TRACEFS naming something else."""
    if hook.startswith("tracepoint"):
        from pybpf.btf.tracefs import TracefsError, tracefs_root

        try:
            tracefs_root()
        except TracefsError as e:
            return f"cannot look up {hook}, which this tool needs: {_first_line(e)}"
    return f"this kernel has no {hook}, which this tool needs."


def _guarded(name: str, run: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    def call(args: argparse.Namespace) -> int:
        from pybpf.btf.errors import BTFError
        from pybpf.cli_support.failures import escalate
        from pybpf.compiler.errors import CompileError, KernelFormatError, UnknownHookError
        from pybpf.sys import BPFError

        try:
            with escalate():  # EMFILE, stdout failures, unreadable tracefs: said by cli.main
                return run(args)
        except KernelFormatError as e:  # this kernel describes an event otherwise (or damaged)
            print(f"pybpf {name}: {e.message}; this tool cannot run with this kernel's "
                  f"tracefs format of {e.event}. {e.hint}".rstrip(), file=sys.stderr)
            return 1
        except UnknownHookError as e:  # the kernel lacks a hook the tool needs: no bug
            print(f"pybpf {name}: {_missing_hook(e.hook)}", file=sys.stderr)
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
        from pybpf.cli_support import target_exit

        pid, tid = getattr(args, "pid", None), getattr(args, "tid", None)
        if isinstance(pid, int) and pid > 0 or isinstance(tid, int) and tid > 0:
            target_exit.watch(pid or tid, name, thread=not pid)
        try:
            return tools.load(name).run(args)
        finally:
            target_exit.stop()

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
    from pybpf.tools.examples import epilog

    for name in tools.TOOLS:
        mod = tools.load(name)
        # the epilog is bcc's "examples:" block, laid out by hand: printed as written
        p = subparsers.add_parser(name, help=mod.HELP, description=mod.HELP,
                                  epilog=epilog(name),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.add_argument("--json", action="store_true", help="one JSON object per line")
        p.set_defaults(func=_guarded(name, _run_tool(name)))
