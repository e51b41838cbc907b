"""The tools that prefer kernel-function hooks (fentry/fexit, then kprobes): on a kernel
without either, tcpconnect/tcpaccept/oomkill fall back to their tracepoints and say so with
-v, and filelife/vfsstat/funclatency (kernel functions) exit 1 with one sentence naming
what is missing. On a kernel with the hooks tests/vm/test_tools_vm.py runs them."""

from __future__ import annotations

import socket

import pytest

from pybpf import features
from pybpf.tools import kfunc
from tests.tools.helpers import run_tool
from tests.util import requires_root

pytestmark = requires_root


def _no_function_hooks() -> bool:
    return not features.has("kprobe") and not features.has("fentry")


without_hooks = pytest.mark.skipif(
    not _no_function_hooks(),
    reason="this kernel has fentry or kprobes (tests/vm/test_tools_vm.py covers them)")


@without_hooks
@pytest.mark.parametrize(("argv", "functions"), [
    (["filelife"], "vfs_create/security_inode_create/vfs_unlink"),
    (["vfsstat", "1", "1"], "vfs_read/vfs_write/vfs_fsync/vfs_open/vfs_create"),
    (["funclatency", "do_sys_openat2"], "do_sys_openat2"),
    (["funclatency", "-v", "vfs_*"], "vfs_*"),
])
def test_kernel_function_tools_say_what_is_missing(argv: list[str], functions: str) -> None:
    rc, out, err = run_tool(argv, ready=False)
    assert rc == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0] == kfunc.missing_sentence(argv[0], functions, ret=argv[0] == "funclatency")
    assert lines[0].startswith(f"pybpf {argv[0]}: needs fentry or kprobes on the kernel "
                               f"functions {functions}, and this kernel has neither: kprobes "
                               "are not available")
    assert "fentry/fexit are not available" in lines[0]


@without_hooks
@pytest.mark.parametrize(("argv", "using"), [
    (["tcpconnect", "-v"], "tcpconnect: using tracepoint sock:inet_sock_set_state"),
    (["tcpaccept", "-v"],
     "tcpaccept: using tracepoints syscalls:sys_exit_accept/sys_exit_accept4"),
    (["oomkill", "-v"], "oomkill: using raw_tracepoint mark_victim"),
])
def test_tracepoint_fallback_named_with_v(argv: list[str], using: str) -> None:
    rc, out, err = run_tool([*argv, "--duration", "1"])
    assert rc == 0, err
    assert using in err.splitlines()
    assert out.splitlines()[0]  # the usual header follows


def test_forced_tracepoint_hook_and_json_connect() -> None:
    """--hook tracepoint on any kernel: -v names it and tcpconnect still sees connections."""
    def cause() -> None:
        with socket.socket() as srv, socket.socket() as cl:
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            cl.connect(srv.getsockname())
            port[0] = srv.getsockname()[1]
            srv.accept()[0].close()

    port = [0]
    rc, out, err = run_tool(["tcpconnect", "-v", "--hook", "tracepoint", "--json",
                             "--duration", "2"], cause)
    assert rc == 0, err
    assert "tcpconnect: using tracepoint sock:inet_sock_set_state" in err
    assert f'"dport":{port[0]},' in out


@without_hooks
@pytest.mark.parametrize("argv", [["tcpconnect", "--hook", "kprobe"],
                                  ["oomkill", "--hook", "fentry"],
                                  ["filelife", "--hook", "kprobe"]])
def test_forced_missing_hook_is_one_sentence(argv: list[str]) -> None:
    rc, out, err = run_tool([*argv, "--duration", "1"], ready=False)
    assert rc == 1 and out == ""
    assert err.startswith(f"pybpf {argv[0]}: cannot use --hook {argv[2]} for ")
    assert len(err.strip().splitlines()) == 1


def test_kernel_function_tools_listed() -> None:
    rc, out, err = run_tool(["tools"], ready=False)
    assert rc == 0, err
    rows = {ln.split()[0]: ln for ln in out.splitlines()[1:]}
    for name in ("filelife", "vfsstat"):
        assert (" no " in rows[name]) == _no_function_hooks()
        if _no_function_hooks():
            assert rows[name].endswith("(no fentry or kprobes)")
