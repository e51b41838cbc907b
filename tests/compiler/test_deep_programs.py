"""A long elif chain in compiled Python compiles, and runs the same in the kernel and as
Python (the passes recurse once per branch)."""

from __future__ import annotations

import importlib.util

from tests.util import requires_root

pytestmark = requires_root


def test_a_thousand_branch_elif_chain(tmp_path, program_closed) -> None:
    n = 1000
    lines = ["from pybpf import bpf, u64", "", "@bpf.function", "def pick(x: u64) -> u64:",
             "    if x == 0:", "        return 100"]
    for i in range(1, n):
        lines += [f"    elif x == {i}:", f"        return {i + 100}"]
    lines.append("    return 7")
    path = tmp_path / "chain.py"
    path.write_text("\n".join(lines) + "\n")
    spec = importlib.util.spec_from_file_location("chain", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    program_closed(mod.pick)
    for x in (0, 1, 500, n - 1, n, 2**40):
        assert mod.pick.run(x) == mod.pick.py(x) == (x + 100 if x < n else 7)
