"""uprobes and uretprobes on a libc function that a child process calls a known number of
times (through ctypes), counted by a program that filters on the child's pid."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pybpf import BPFError, NotSupportedError, attach
from pybpf.link import AttachError
from pybpf.symbols import SymbolNotFoundError
from tests.link.linkkit import counter, needs_root

pytestmark = needs_root

CALLS = 37
CHILD = textwrap.dedent(f"""
    import ctypes, sys
    libc = ctypes.CDLL("libc.so.6")
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()
    for _ in range({CALLS}):
        libc.getpgid(0)
    sys.stdout.write("done\\n"); sys.stdout.flush()
""")


class Child:
    """A Python child that calls getpgid CALLS times when told to."""

    def __enter__(self) -> Child:
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.pid = self.proc.pid
        return self

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "done"
        self.proc.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.parametrize("library", ["libc", "c", "libc.so.6"])
def test_uprobe_counts_calls(library):
    with Child() as child:
        prog, counts = counter("kprobe", pid=child.pid)
        with prog, attach.uprobe(prog, library, "getpgid") as link:
            assert link.id is not None
            assert "getpgid" in repr(link)
            child.go()
        assert counts[0] == CALLS


def test_uprobe_pid_filter_and_uretprobe():
    with Child() as child:
        entry, entry_counts = counter("kprobe", pid=child.pid)
        ret, ret_counts = counter("kprobe", pid=child.pid)
        with entry, ret, attach.uprobe(entry, "libc", "getpgid", pid=child.pid), \
                attach.uretprobe(ret, "libc", "getpgid", pid=child.pid):
            child.go()
        assert entry_counts[0] == CALLS
        assert ret_counts[0] == CALLS


def test_uprobe_by_file_offset():
    from pybpf.symbols import elf_symbol

    offset = elf_symbol("libc", "getpgid").file_offset
    with Child() as child:
        prog, counts = counter("kprobe", pid=child.pid)
        with prog, attach.uprobe(prog, "libc", offset):
            child.go()
        assert counts[0] == CALLS


def test_uprobe_multi():
    with Child() as child:
        try:
            prog, counts = counter("kprobe", pid=child.pid, attach="trace_uprobe_multi")
            link = attach.uprobe_multi(prog, "libc", ["getpgid"])
        except (BPFError, NotSupportedError) as e:
            pytest.skip(f"uprobe_multi unavailable: {e}")
        with prog, link:
            child.go()
        assert counts[0] == CALLS


def test_uprobe_unknown_symbol_suggests_names():
    prog, _ = counter("kprobe")
    with prog, pytest.raises(SymbolNotFoundError, match="getpgidd.*nearest names: getpgid"):
        attach.uprobe(prog, "libc", "getpgidd")


def test_uprobe_unknown_binary():
    prog, _ = counter("kprobe")
    with prog, pytest.raises(SymbolNotFoundError, match="no-such-lib-xyz"):
        attach.uprobe(prog, "no-such-lib-xyz", "main")


def test_uprobe_offset_past_function_end():
    prog, _ = counter("kprobe")
    with prog, pytest.raises(AttachError, match="past the end of getpgid"):
        attach.uprobe(prog, "libc", "getpgid+0x100000")


def test_uprobe_wrong_program_type():
    prog, _ = counter("tracepoint")
    with prog, pytest.raises(AttachError, match="uprobe needs a 'kprobe' program"):
        attach.uprobe(prog, "libc", "getpgid")
