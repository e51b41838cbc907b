"""The bpftrace one-liner language: lexer, parser, AST, semantic checks and lowering to the
compiler's IR, plus the run-time that loads the probes, formats printf records and prints the
maps at exit like bpftrace. `pybpf trace` (pybpf/cli_trace.py) is its command line."""

from pybpf.lang.errors import LangError
from pybpf.lang.parser import parse

__all__ = ["LangError", "parse"]
