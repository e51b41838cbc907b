"""`pybpf trace`: run bpftrace programs (one-liners or .bt scripts) without LLVM.

    pybpf trace 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
    pybpf trace -e 'PROGRAM' | pybpf trace script.bt | pybpf trace -l 'tracepoint:sched:*'
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pybpf.cli_support import argtypes, failures

HELP = "run a bpftrace program (one-liner or script) with pybpf's compiler"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("trace", help=HELP, description=HELP)
    p.add_argument("program", nargs="?", help="the program text, or a script file")
    p.add_argument("params", nargs="*", help="positional parameters $1, $2, ...")
    p.add_argument("-e", dest="expr", metavar="PROGRAM", help="the program text")
    p.add_argument("-l", dest="list", nargs="?", const="*", metavar="PATTERN",
                   help="list probes (tracepoints, software/hardware events, uprobes)")
    p.add_argument("-p", dest="pid", type=argtypes.pid, default=-1, help="trace this process")
    p.add_argument("-c", dest="cmd", metavar="CMD", help="run CMD and trace it (cpid); end "
                                                          "when it exits")
    p.add_argument("-q", dest="quiet", action="store_true", help="no 'Attaching' message")
    p.add_argument("-f", dest="format", choices=("text", "json"), default="text")
    p.add_argument("-o", dest="output", metavar="FILE", help="write output to FILE")
    p.add_argument("-v", dest="verbose", action="store_true",
                   help="show the generated instructions")
    p.add_argument("-d", dest="debug", action="store_true", help="show the AST and the IR")
    p.add_argument("--unsafe", action="store_true", help="allow system() and signal()")
    p.set_defaults(func=run)


def _source(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    params = list(args.params)
    if args.expr is not None:
        if args.program is not None:
            params.insert(0, args.program)
        return args.expr, "stdin", params
    if args.program is None:
        raise SystemExit("pybpf trace: give a program (-e 'PROGRAM' or a script file)")
    if os.path.isfile(args.program) and "{" not in args.program:
        with open(args.program) as f:
            return f.read(), args.program, params
    return args.program, "stdin", params


def run(args: argparse.Namespace) -> int:
    from pybpf.btf.errors import BTFError
    from pybpf.compiler.errors import CompileError
    from pybpf.sys import BPFError

    if args.list is not None:
        return _list(args)
    # -p names a process that must exist now, as bpftrace's does: the runtime ends when
    # /proc/PID goes away, so a PID that is not there would attach, then end at once, status 0
    if args.pid > 0 and not os.path.exists(f"/proc/{args.pid}"):
        print(f"pybpf trace: -p {args.pid}: no such process", file=sys.stderr)
        return 1
    try:
        src, file, params = _source(args)
    except OSError as e:
        print(f"pybpf trace: {e}", file=sys.stderr)
        return 1
    child = None
    out: Any = sys.stdout
    try:
        if args.cmd:
            child = _Child(args.cmd)
        from pybpf.lang.compile import Compiler

        comp = Compiler(src, file, params, unsafe=args.unsafe,
                        cpid=child.pid if child else None)
        try:
            comp.compile()
            if args.debug:
                _debug(comp)
            if args.verbose:
                _verbose(comp)
            if args.output:
                out = open(args.output, "w")  # noqa: SIM115 - closed below
            from pybpf.lang.runtime import Session

            session = Session(comp, out, args.format == "json", args.quiet, args.pid,
                              child.release if child else None, child)
            return session.run()
        finally:
            comp.close()
    except CompileError as e:
        failures.reraise(e)  # "unknown tracepoint" of a tracefs it may not read, EMFILE
        print(e.render(), file=sys.stderr)
        return 1
    except BTFError as e:  # PYBPF_BTF or /sys/kernel/btf/vmlinux missing or damaged
        failures.reraise(e)
        print(f"pybpf trace: cannot use the kernel's BTF: {str(e).splitlines()[0]}",
              file=sys.stderr)
        return 1
    except (BPFError, PermissionError, OSError) as e:
        failures.reraise(e)  # stdout's write errors, EMFILE: said by pybpf.cli's main
        print(f"pybpf trace: {e}", file=sys.stderr)
        return 1
    finally:
        if child is not None:
            child.kill()
        if out is not sys.stdout:
            out.close()


class _Child:
    """-c CMD: forked now (so cpid is known when compiling), started after attaching."""

    def __init__(self, cmd: str) -> None:
        import shlex

        argv = shlex.split(cmd)
        pid = os.fork()
        if pid == 0:  # the child stops itself until the probes are attached
            import ctypes
            import signal

            # the command dies with the tracer, even when the tracer is SIGKILLed
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            # Python ignores SIGPIPE, and exec would pass that on: `CMD | head` must end CMD
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGSTOP)
            try:
                os.execvp(argv[0], argv)
            except OSError as e:
                print(f"pybpf trace: cannot run {argv[0]}: {e.strerror}", file=sys.stderr)
            os._exit(127)
        os.waitpid(pid, os.WUNTRACED)
        self.pid = pid
        self.stopped = True
        self.status: int | None = None

    def release(self) -> None:
        if self.stopped:
            import signal

            os.kill(self.pid, signal.SIGCONT)
            self.stopped = False

    def poll(self) -> int | None:
        if self.status is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = status
        return self.status

    def terminate(self) -> None:
        self.kill()

    def kill(self) -> None:
        if self.poll() is None:
            import signal

            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.status = 0


def _list(args: argparse.Namespace) -> int:
    from pybpf.lang.probes import list_probes

    try:
        for name in list_probes(args.list if args.list != "*" else args.program or "*"):
            print(name)
    except (OSError, LookupError) as e:
        failures.reraise(e)
        print(f"pybpf trace: {e}", file=sys.stderr)
        return 1
    return 0


def _debug(comp: Any) -> None:
    from pybpf.lang.unparse import program

    print("AST:\n" + program(comp.tree), file=sys.stderr)
    for cp in comp.compiled:
        print(f"IR of {cp.probe.full_name}:", file=sys.stderr)
        for s in cp.fn.body:
            print(f"  {s}", file=sys.stderr)


def _verbose(comp: Any) -> None:
    from pybpf import asm

    for cp in comp.compiled:
        print(f"{cp.probe.full_name}: {len(cp.insns)} instructions", file=sys.stderr)
        print(asm.disassemble(cp.insns), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """`python -m pybpf.cli_trace ...`: the trace command alone (what `pybpf trace` runs)."""
    parser = argparse.ArgumentParser(prog="pybpf")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["trace", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
