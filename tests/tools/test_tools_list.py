"""`pybpf tools`: one line per tool with whether this kernel supports it."""

from __future__ import annotations

import json

from pybpf import tools
from pybpf.tools import catalog
from tests.tools.helpers import run_tool
from tests.util import requires_root


def test_every_tool_has_needs_and_a_help_line() -> None:
    for name in tools.TOOLS:
        assert tools.load(name).HELP
        needs = catalog.needs(name)
        assert needs, name
        for need in needs:
            assert need.partition(":")[0] in ("tp", "raw", "perf", "uprobe", "kfunc"), need


def test_checker_reports_a_missing_tracepoint() -> None:
    c = catalog.Checker()
    assert c.missing("tp:nosuchgroup:nosuchevent") == "no tracepoint nosuchgroup:nosuchevent"
    assert c.missing("raw:pybpf_no_such_raw_tracepoint") is not None


@requires_root
def test_pybpf_tools_lists_every_tool() -> None:
    rc, out, err = run_tool(["tools"], ready=False)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TOOL", "HERE", "DESCRIPTION"]
    names = [ln.split()[0] for ln in lines[1:]]
    assert names == list(tools.TOOLS)
    here = {ln.split()[0]: ln.split()[1] for ln in lines[1:]}
    for name in ("execsnoop", "tcpstates", "funclatency", "runqlen", "oomkill", "hardirqs"):
        assert here[name] == "yes"
    rc, out, err = run_tool(["tools", "--json"], ready=False)
    rows = [json.loads(ln) for ln in out.splitlines()]
    assert [r["tool"] for r in rows] == list(tools.TOOLS)
    assert all(r["supported"] == (not r["missing"]) for r in rows)
