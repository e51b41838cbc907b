"""The `pybpf` command: features, listings, and clear errors without privilege."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pybpf import Program, asm, maps
from pybpf.cli import main
from tests.util import DROP_CAPABILITIES, requires_root

pytestmark = requires_root


def run_cli(*args: str) -> tuple[int, str]:
    from contextlib import redirect_stdout
    from io import StringIO

    out = StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def test_features_reports_what_this_kernel_has():
    code, out = run_cli("features", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["map_types"]["ringbuf"] is True
    assert report["program_types"]["socket_filter"] is True
    assert report["hooks"]["raw_tracepoint"] is True
    # kprobes are probed, not assumed: the answer must match sysfs/tracefs
    has_kprobes = os.path.exists("/sys/bus/event_source/devices/kprobe")
    assert report["hooks"]["kprobe"] in (has_kprobes, True)
    code, text = run_cli("features")
    assert code == 0 and "ringbuf" in text and "Hooks" in text


def test_features_helpers_are_probed_per_program_type():
    code, out = run_cli("features", "--json", "--helpers")
    helpers = json.loads(out)["helpers"]
    assert "map_lookup_elem" in " ".join(helpers["socket_filter"])
    assert "get_current_pid_tgid" in " ".join(helpers["tracepoint"])
    # packet helpers belong to their program types only
    assert "bpf_xdp_adjust_head" in helpers["xdp"]
    assert "bpf_xdp_adjust_head" not in helpers["socket_filter"]
    assert "bpf_perf_prog_read_value" in helpers["perf_event"]
    assert "bpf_perf_prog_read_value" not in helpers["xdp"]


def test_prog_and_map_listings_show_our_objects():
    with maps.Hash(key="u32", value="u64", max_entries=4, name="cli_test_map") as m, \
            Program.load("socket_filter", asm.assemble("r0 = 0\nexit"),
                         name="cli_test_prog") as p:
        code, out = run_cli("prog", "list", "--json")
        rows = [json.loads(line) for line in out.splitlines()]
        mine = [r for r in rows if r["id"] == p.id]
        assert code == 0 and mine and mine[0]["name"] == "cli_test_prog"
        assert mine[0]["type"] == "socket_filter"
        code, out = run_cli("map", "list")
        line = next(ln for ln in out.splitlines() if "cli_test_map" in ln)
        assert line.split()[:2] == [str(m.id), "hash"]
        code, out = run_cli("prog", "show")
        assert "cli_test_prog" in out and "RUN_CNT" in out.splitlines()[0]


def test_without_privilege_one_sentence_and_exit_1():
    # a child that drops to nobody: no CAP_BPF, no root
    code = DROP_CAPABILITIES + "import sys\nfrom pybpf.cli import main\n" \
        "sys.exit(main(['map', 'list']))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("pybpf: ") and "CAP_BPF" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_without_privilege_library_raises_permission_error():
    code = (DROP_CAPABILITIES + "from pybpf import maps\n"
            "try:\n    maps.Hash(key='u32', value='u32', max_entries=1)\n"
            "except PermissionError as e:\n    print('PermissionError:', e)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert "PermissionError:" in res.stdout and "CAP_BPF" in res.stdout, res.stderr


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as e:
        main(["nosuchcommand"])
    assert e.value.code == 2
