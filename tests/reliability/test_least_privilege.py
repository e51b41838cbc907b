"""Least privilege (issue 26 item 2): a user who is not root, with CAP_BPF and CAP_PERFMON
only, and tracefs readable by a group of theirs (mounted with gid=,mode=750 as pybpf's
message advises), runs the tracing tools and one-liners; a uprobe, which this kernel creates
only for CAP_SYS_ADMIN, is refused with a sentence that says so; `pybpf features` lists per
hook the capabilities it needs and what the user lacks."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.reliability.common import child_env, no_traceback
from tests.reliability.test_tracefs_access import NOBODY, run_as_user
from tests.util import requires_root

pytestmark = [requires_root,
              pytest.mark.skipif(NOBODY is None, reason="no user 'nobody' to run as")]


def _tracefs() -> tuple[str, str]:
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 3 and parts[2] == "tracefs":
                return parts[1], parts[3]
    pytest.skip("tracefs is not mounted")


@pytest.fixture(scope="module")
def group_tracefs():
    """tracefs opened to nobody's group for the module's tests, then as it was."""
    root, options = _tracefs()
    mode = re.search(r"\bmode=(\d+)", options)
    gid = re.search(r"\bgid=(\d+)", options)
    assert NOBODY is not None
    subprocess.run(["mount", "-o", f"remount,gid={NOBODY.pw_gid},mode=750", root], check=True)
    try:
        yield root
    finally:
        subprocess.run(["mount", "-o", f"remount,gid={gid.group(1) if gid else 0},"
                        f"mode={mode.group(1) if mode else '700'}", root], check=True)


TOOLS = [["execsnoop", "--duration", "1"], ["opensnoop", "--duration", "1"],
         ["statsnoop", "--duration", "1"], ["syscount", "-d", "1"], ["biolatency", "1", "1"],
         ["runqlat", "1", "1"], ["cpudist", "1", "1"], ["profile", "-d", "1"],
         ["offcputime", "-d", "1"], ["tcplife", "--duration", "1"],
         ["killsnoop", "--duration", "1"], ["softirqs", "1", "1"],
         ["trace", "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); } "
                   "profile:hz:49 { @s = count(); } interval:s:1 { exit(); }"]]


@pytest.mark.parametrize("argv", TOOLS, ids=lambda a: a[0])
def test_runs_with_cap_bpf_and_cap_perfmon(group_tracefs: str, argv: list[str]) -> None:
    res = run_as_user(argv, child_env())
    assert res.returncode == 0, (res.stdout[-1000:], res.stderr[-2000:])
    assert no_traceback(res.stderr), res.stderr
    if argv[0] == "opensnoop":  # the user's own process opened tracefs files meanwhile
        assert len(res.stdout.splitlines()) > 1, res.stdout
    if argv[0] == "trace":
        assert re.search(r"^@s: [1-9]", res.stdout, re.M), res.stdout


def test_uprobe_needs_cap_sys_admin_and_says_so(group_tracefs: str) -> None:
    res = run_as_user(["trace", "uprobe:libc:getpid { @ = count(); } interval:s:1 { exit(); }"],
                      child_env())
    assert res.returncode == 1 and no_traceback(res.stderr), res
    assert "this kernel creates uprobes only for CAP_SYS_ADMIN" in res.stderr, res.stderr


def test_features_lists_capabilities_and_what_is_lacking(group_tracefs: str) -> None:
    res = run_as_user(["features"], child_env())
    assert res.returncode == 0 and no_traceback(res.stderr), res
    lines = {ln.split()[0]: ln for ln in res.stdout.split("Capabilities")[1].splitlines()[1:]
             if ln.startswith("  ") and ln.split()}
    assert "CAP_BPF + CAP_PERFMON" in lines["tracepoint"] and "lacks" not in lines["tracepoint"]
    assert lines["uprobe"].endswith("[this process lacks CAP_SYS_ADMIN]"), lines["uprobe"]
    assert lines["xdp"].endswith("[this process lacks CAP_NET_ADMIN]"), lines["xdp"]
    # a type the user may not load is unknown to it, not missing from the kernel
    assert re.search(r"\bsched_cls +\?( |$)", res.stdout, re.M), res.stdout
    assert re.search(r"\bxdp +\?( |$)", res.stdout, re.M), res.stdout
