"""The Tools II set: SIGINT/SIGTERM end each tool cleanly, and every session closes all the
kernel objects it made (in process, so the autouse no_leaks check is real)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.tools.helpers import ToolRun
from tests.util import requires_root

pytestmark = requires_root


@pytest.mark.parametrize(("argv", "sig"), [
    (["statsnoop"], signal.SIGINT),
    (["sigsnoop"], signal.SIGTERM),
    (["softirqs"], signal.SIGINT),
    (["runqlen"], signal.SIGTERM),
    (["tcpaccept"], signal.SIGTERM),
    (["funclatency", "c:getppid"], signal.SIGINT),
    (["biostat", "-C"], signal.SIGTERM),
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


def _builders() -> list[tuple[str, object]]:
    from pybpf.symbols import resolve_binary
    from pybpf.tools import (
        bashreadline,
        biostat,
        cpudist,
        drsnoop,
        funclatency,
        hardirqs,
        killsnoop,
        mountsnoop,
        oomkill,
        runqlen,
        sigsnoop,
        softirqs,
        statsnoop,
        tcpaccept,
        tcpretrans,
    )

    libc = resolve_binary("c")
    bash = resolve_binary("bash") if os.path.exists("/bin/bash") else None
    out: list[tuple[str, object]] = [
        ("statsnoop", statsnoop.build), ("killsnoop", killsnoop.build),
        ("sigsnoop", sigsnoop.build), ("mountsnoop", mountsnoop.build),
        ("cpudist", cpudist.build), ("runqlen", lambda: runqlen.build(True)),
        ("softirqs", lambda: softirqs.build(True)), ("hardirqs", hardirqs.build),
        ("tcpaccept", tcpaccept.build), ("tcpretrans", tcpretrans.build),
        ("oomkill", oomkill.build), ("drsnoop", drsnoop.build), ("biostat", biostat.build),
        ("funclatency", lambda: funclatency.build(libc, ["getppid", "getpid"]))]
    if bash:
        out.append(("bashreadline", lambda: bashreadline.build(bash)))
    return out


@pytest.mark.parametrize(("name", "builder"), _builders(), ids=[n for n, _ in _builders()])
def test_session_closes_everything(name: str, builder) -> None:
    built = builder()
    session = built[0] if isinstance(built, tuple) else built
    session.attach()
    assert session.attachments
    session.close()
    session.close()
