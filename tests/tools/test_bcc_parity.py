"""bcc parity (issue 24): the command line (usage of the tool on a wrong flag, "did you
mean", -u by name, every -h's examples), the flags bcc has (opensnoop -f/-b, biolatency
-F/-j, cpudist -e, tcpretrans -s), layouts (--json fields), and filters applied in the
kernel: a session built with a filter is read raw, so an event that fails the filter and
still arrived would have left the kernel."""

from __future__ import annotations

import os
import shlex
import socket
import time

import pytest

from pybpf import cli
from pybpf.tools import TOOLS
from pybpf.tools.examples import examples
from pybpf.tools.runner import text
from tests.tools.disk_io import direct_writes
from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err


def test_misspelled_tool_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(["execsnop"], capsys)
    assert "unknown command 'execsnop'; did you mean execsnoop" in err
    assert "opensnoop" not in err  # not the list of every command
    err = _usage_error(["prog", "lsit"], capsys)
    assert "did you mean list?" in err and err.startswith("usage: pybpf prog ")
    err = _usage_error(["qqqqqq"], capsys)
    assert "unknown command 'qqqqqq' (`pybpf -h` lists the commands)" in err


def test_wrong_flag_prints_the_tools_usage(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(["execsnoop", "--no-such-flag"], capsys)
    assert err.startswith("usage: pybpf execsnoop [-h]")
    assert err.rstrip().endswith("pybpf execsnoop: error: unrecognized arguments: "
                                 "--no-such-flag")
    err = _usage_error(["prog", "list", "-Z"], capsys)
    assert err.startswith("usage: pybpf prog list")


def test_user_by_name_or_uid(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    for tool in ("execsnoop", "opensnoop", "drsnoop", "tcpconnect"):
        assert parser.parse_args([tool, "-u", "root"]).uid == 0
        assert parser.parse_args([tool, "-u", "1000"]).uid == 1000
    err = _usage_error(["execsnoop", "-u", "nosuchuser"], capsys)
    assert "no such user 'nosuchuser'" in err and "invalid int" not in err


@pytest.mark.parametrize("tool", TOOLS)
def test_help_ends_with_examples_that_parse(tool: str, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    with pytest.raises(SystemExit):
        cli.main([tool, "-h"])
    text = capsys.readouterr().out
    shown = text[text.index("\nexamples:\n"):].splitlines()[2:]
    assert len(shown) == len(examples(tool)) >= 1
    for line, (args, _) in zip(shown, examples(tool), strict=True):
        assert line.startswith(f"    pybpf {tool} {args}".rstrip() + " ") and "# " in line
        cli._parse(cli.build_parser(), [tool, *shlex.split(args)])  # exits 2 if it does not


def test_new_flags_are_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert "O_RDONLY is 0" in _usage_error(["opensnoop", "-f", "O_RDONLY"], capsys)
    assert "'O_NOPE' is not an open() flag" in _usage_error(["opensnoop", "-f", "O_NOPE"],
                                                            capsys)
    assert "give a power of two" in _usage_error(["opensnoop", "-b", "48"], capsys)


@requires_root
def test_opensnoop_flag_filter_in_kernel(tmp_path) -> None:
    """-f O_WRONLY: the read-only opens of the same file never reach the ring buffer."""
    from pybpf.tools import opensnoop

    path = str(tmp_path / "f")
    with open(path, "w"):
        pass
    session = opensnoop.build(flag_mask=os.O_WRONLY)
    mine: list[tuple[int, int]] = []
    try:
        session.attach()
        for _ in range(20):
            os.close(os.open(path, os.O_RDONLY))
        for _ in range(3):
            os.close(os.open(path, os.O_WRONLY))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and len(mine) < 3:
            # (the reads came first: one that passed the filter would be among these)
            mine += [(ev.flags, ev.ret) for ev in session.poll(100) if ev.pid == os.getpid()
                     and text(ev.path) == path]
    finally:
        session.close()
    assert len(mine) == 3 and all(flags & os.O_WRONLY for flags, _ in mine), mine


@requires_root
def test_opensnoop_flag_filter_and_buffer_pages_tool(tmp_path) -> None:
    path = str(tmp_path / "w")

    def cause() -> None:
        with open(path, "w") as f:
            f.write("x")
        with open(path):
            pass

    rc, out, err = run_tool(["opensnoop", "-f", "O_WRONLY", "-b", "16", "-d", "2",
                             "-p", str(os.getpid())], cause)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "COMM", "FD", "ERR", "FLAGS", "MODE", "PATH"]
    rows = [ln for ln in lines[1:] if ln.endswith(path)]
    assert len(rows) == 1, out  # the write only: -f shows the flags column, as bcc's


@requires_root
def test_tcpconnect_uid_and_pid_in_kernel() -> None:
    """tcpconnect's -u/-p on the tracepoint path: a connect() by another user (or process)
    sends no event at all."""
    from pybpf.tools import tcpstates
    from pybpf.tools.task_filter import TaskTarget

    def connects(target: TaskTarget) -> list[int]:
        session = tcpstates.build(connects_only=True, target=target)
        ports: list[int] = []
        try:
            session.attach()
            with socket.socket() as srv:
                srv.bind(("127.0.0.1", 0))
                srv.listen()
                port = srv.getsockname()[1]
                for _ in range(3):
                    socket.create_connection(("127.0.0.1", port)).close()
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:
                ports += [ev.dport for ev in session.poll(100)
                          if ev.newstate == tcpstates.SYN_SENT and ev.dport == port]
        finally:
            session.close()
        return ports

    assert len(connects(TaskTarget(uid=os.getuid()))) == 3
    assert len(connects(TaskTarget(pid=os.getpid()))) == 3
    assert connects(TaskTarget(uid=os.getuid() + 4242)) == []
    assert connects(TaskTarget(pid=os.getpid() + 100000)) == []


@requires_root
def test_biolatency_per_flags() -> None:
    rc, out, err = run_tool(["biolatency", "-F", "2", "1"], lambda: direct_writes(count=32))
    assert rc == 0, err
    heads = [ln for ln in out.splitlines() if ln.startswith("flags = ")]
    # O_DIRECT|O_SYNC writes: a Write with Sync (and ForcedUnitAccess where the disk has it)
    assert any(h.endswith("Sync-Write") for h in heads), out
    assert all(h.split(" = ")[1].split("-")[-1] in ("Read", "Write", "Flush", "Discard",
                                                     "SecureErase", "Unknown") for h in heads)


def test_biolatency_flags_names() -> None:
    from pybpf.tools.biolatency import flags_name

    def packed(rwbs: str) -> int:
        return int.from_bytes(rwbs.encode().ljust(8, b"\0"), "little")

    assert flags_name(packed("WS")) == "Sync-Write"
    assert flags_name(packed("FWFSM")) == "ForcedUnitAccess-Metadata-Sync-Write"
    assert flags_name(packed("RA")) == "ReadAhead-Read"
    assert flags_name(packed("F")) == "Flush"
    assert flags_name(packed("DE")) == "SecureErase"
    assert flags_name(0) == "Unknown"


@requires_root
def test_biolatency_bcc_json() -> None:
    rc, out, err = run_tool(["biolatency", "-j", "-D", "2", "1"],
                            lambda: direct_writes(count=32))
    assert rc == 0, err
    rows = json_lines(out)
    assert rows and all(set(r) == {"ts", "val_type", "data", "disk"} for r in rows), rows
    data = rows[0]["data"]
    assert data[0]["interval-start"] == 0 and data[0]["interval-end"] == 1
    for a, b in zip(data, data[1:], strict=False):  # contiguous buckets, as bcc's
        assert b["interval-start"] == a["interval-end"] + 1
    assert sum(d["count"] for r in rows for d in r["data"]) >= 32
    assert rows[0]["val_type"] == "usecs"


@requires_root
def test_biolatency_unknown_disk_on_stderr() -> None:
    rc, out, err = run_tool(["biolatency", "-d", "sdz9"], ready=False)
    assert rc == 1 and out == ""
    assert "no such disk 'sdz9'" in err
    assert all(name in err for name in os.listdir("/sys/class/block")), err


@requires_root
def test_cpudist_extension() -> None:
    rc, out, err = run_tool(["cpudist", "-e", "1", "1"])
    assert rc == 0, err
    avg = [ln for ln in out.splitlines() if ln.startswith("avg = ")]
    assert len(avg) == 1, out
    n = int(avg[0].rsplit("count: ", 1)[1])
    rows = [ln for ln in out.splitlines() if "->" in ln]
    # the totals are read after the histogram: switches in between count in them only
    assert n >= sum(int(r.split(":")[1].split("|")[0]) for r in rows) > 0
    rc, out, err = run_tool(["cpudist", "-e", "--json", "1", "1"])
    assert rc == 0, err
    row = json_lines(out)[0]
    assert row["count"] >= sum(b["count"] for b in row["buckets"]) > 0 and row["total"] >= 0


@requires_root
def test_tcplife_json_times() -> None:
    def cause() -> None:
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            for _ in range(2):
                c = socket.create_connection(srv.getsockname())
                a, _ = srv.accept()
                c.close()
                a.close()

    rc, out, err = run_tool(["tcplife", "-T", "-t", "--json", "--duration", "2"], cause)
    assert rc == 0, err
    rows = json_lines(out)
    assert len(rows) >= 4, rows
    assert rows[0]["ts"] == 0 and all(r["ts"] >= 0 for r in rows)
    assert all(len(r["time"]) == 8 and r["time"][2] == ":" for r in rows)
    rc, out, err = run_tool(["tcplife", "--json", "--duration", "1"], cause)
    assert all("time" not in r and "ts" not in r for r in json_lines(out))


@requires_root
def test_tcpretrans_sequence() -> None:
    from tests import netns

    if netns.available() is not None:
        pytest.skip(str(netns.available()))
    from tests.tools.test_tcp_tools import _retransmit, _run_all

    def cause() -> None:
        with netns.veth_pair() as net:
            _retransmit(net)

    (rc, out, err), (rc2, out2, err2) = _run_all(
        [["tcpretrans", "-s", "--json", "--duration", "6"],  # (veth set-up may be slow)
         ["tcpretrans", "-s", "--duration", "6"]], cause)
    assert rc == 0 and rc2 == 0, err + err2
    flows: dict[tuple[str, int, str, int], set[int]] = {}
    for r in json_lines(out):
        flows.setdefault((r["laddr"], r["lport"], r["raddr"], r["rport"]), set()).add(r["seq"])
    assert flows
    # the 100 unacknowledged bytes go again and again: one sequence number per flow
    assert all(len(seqs) == 1 and 0 not in seqs for seqs in flows.values()), flows
    lines = out2.splitlines()
    assert lines[1].split()[-2:] == ["STATE", "SEQ"]
    assert any(ln.split()[-1].isdigit() for ln in lines[2:]), out2
