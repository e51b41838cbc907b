"""The tool subcommands' error handling (no kernel needed)."""

from __future__ import annotations

import argparse

import pytest

from pybpf import cli_tools
from pybpf.cli import build_parser
from pybpf.compiler.errors import CompileError, Loc
from pybpf.sys import NotSupportedError


def _raise(exc: BaseException):
    def run(args: argparse.Namespace) -> int:
        raise exc

    return run


def _compile(program) -> int:
    def run(args: argparse.Namespace) -> int:
        _ = program.insns  # compiling names the hook: this kernel has none such
        return 0

    return run


def test_missing_tracepoint_is_a_one_line_feature_error(capsys) -> None:
    from pybpf import bpf

    @bpf.tracepoint("block:no_such_event")
    def on_event(ctx):
        return 0

    assert cli_tools._guarded("biolatency", _compile(on_event))(argparse.Namespace()) == 1
    text = capsys.readouterr().err
    assert text == ("pybpf biolatency: this kernel has no tracepoint block:no_such_event, "
                    "which this tool needs.\n")

    @bpf.raw_tracepoint("no_such_raw_event")
    def on_raw(ctx):
        return 0

    assert cli_tools._guarded("runqlat", _compile(on_raw))(argparse.Namespace()) == 1
    assert capsys.readouterr().err == ("pybpf runqlat: this kernel has no raw tracepoint "
                                       "no_such_raw_event, which this tool needs.\n")


def test_compile_bug_and_kernel_errors(capsys) -> None:
    err = CompileError("cannot compile this", Loc("t.py", 1, 1, "x = y"))
    assert cli_tools._guarded("execsnoop", _raise(err))(argparse.Namespace()) == 1
    text = capsys.readouterr().err
    assert text.startswith("pybpf execsnoop: internal error: the tool's BPF program does not "
                           "compile: t.py:1:1: error: cannot compile this")
    nse = NotSupportedError("perf events are not available here.\nmore detail")
    assert cli_tools._guarded("profile", _raise(nse))(argparse.Namespace()) == 1
    assert capsys.readouterr().err == "pybpf profile: perf events are not available here.\n"


@pytest.mark.parametrize("argv", [["biolatency", "-D", "-m", "1", "3"],
                                  ["profile", "-f", "-F", "99", "-p", "1,2", "5"],
                                  ["offcputime", "-K", "-f", "2"],
                                  ["tcplife", "-6", "-L", "80,443"],
                                  ["execsnoop", "-x", "-T", "--max-args", "5"],
                                  ["snapshot", "-d", "3", "--html", "r.html"]])
def test_bcc_style_arguments_parse(argv: list[str]) -> None:
    args = build_parser().parse_args([*argv, "--json"])
    assert args.json and callable(args.func)


def test_bad_arguments_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["profile", "-p", "abc"])
    assert e.value.code == 2
