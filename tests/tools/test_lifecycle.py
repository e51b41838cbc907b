"""Every tool: clean exit on SIGINT/SIGTERM, nothing left in the kernel, and one clear line
with exit status 1 without privilege."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from pybpf import tools
from tests.tools.helpers import ROOT, ToolRun
from tests.util import DROP_CAPABILITIES, requires_root, tool_args

pytestmark = requires_root


@pytest.mark.parametrize(("argv", "sig"), [
    (["execsnoop"], signal.SIGTERM),
    (["opensnoop"], signal.SIGINT),
    (["biolatency"], signal.SIGINT),
    (["profile"], signal.SIGTERM),
    (["tcplife"], signal.SIGTERM),
])
def test_signal_ends_the_tool(argv: list[str], sig: int) -> None:
    run = ToolRun(argv)
    try:
        run.wait_ready()
        run.proc.send_signal(sig)
        rc, out, err = run.finish(timeout=10)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
    assert rc == 0, err
    assert "Traceback" not in err
    if argv == ["biolatency"]:
        assert out.startswith("Tracing block device I/O... Hit Ctrl-C to end.")


def _builders() -> list[tuple[str, object]]:
    from pybpf.tools import (
        biolatency,
        biosnoop,
        bitesize,
        execsnoop,
        exitsnoop,
        offcputime,
        opensnoop,
        profile,
        runqlat,
        snapshot_probes,
        syscount,
        tcpstates,
    )

    return [("execsnoop", execsnoop.build), ("exitsnoop", exitsnoop.build),
            ("opensnoop", opensnoop.build), ("syscount", lambda: syscount.build("both", True)),
            ("biolatency", lambda: biolatency.build(True, False, True)),
            ("biosnoop", lambda: biosnoop.build(True)), ("bitesize", bitesize.build),
            ("runqlat", runqlat.build), ("offcputime", offcputime.build),
            ("profile", profile.build), ("tcpstates", tcpstates.build),
            ("signals", snapshot_probes.signals), ("oom", snapshot_probes.oom_kills),
            ("retransmits", snapshot_probes.retransmits)]


@pytest.mark.parametrize(("name", "builder"), _builders(), ids=[n for n, _ in _builders()])
def test_session_closes_everything(name: str, builder) -> None:
    """In process (so the no_leaks check is real): attach, then close; the autouse no_leaks
    fixture fails the test if a program, map or link remains."""
    built = builder()
    session = built[0] if isinstance(built, tuple) else built
    session.attach()
    assert session.attachments
    session.close()
    session.close()  # twice is harmless


@pytest.mark.parametrize("name", ["snapshot", *tools.TOOLS])
def test_without_privilege_one_line_and_exit_1(name: str) -> None:
    code = DROP_CAPABILITIES + ("import sys\nfrom pybpf.cli import main\n"
                                f"sys.exit(main({[name, *tool_args(name)]!r}))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=30)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pybpf {name}: "), res.stderr
    assert "CAP_BPF" in lines[0] or "root" in lines[0]


@pytest.mark.parametrize("argv", [["opensnoop"], ["biolatency"],
                                  ["trace", "tracepoint:syscalls:sys_enter_openat "
                                            "{ @[comm] = count(); }"]],
                         ids=["opensnoop", "biolatency", "trace"])
def test_sigint_ends_the_tool_even_when_it_was_ignored(argv: list[str]) -> None:
    """Started with SIGINT ignored (a shell script's background job: `pybpf opensnoop &` and
    later `kill -INT $!`), the command still ends on SIGINT as it says it does ("Hit Ctrl-C
    to end"), as bpftrace does, with its summary and exit 0."""
    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    run = ToolRun(argv, preexec_fn=ignore_sigint)
    proc = run.proc
    try:
        run.wait_ready(timeout=30)
        time.sleep(1)  # "Attaching" comes before the attach: let it count some opens
        with open("/etc/hostname"):
            pass
        proc.send_signal(signal.SIGINT)
        rc, out, err = run.finish(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0 and "Traceback" not in err, (rc, err)
    if argv[0] == "trace":
        assert "@[" in out, out[-2000:]
