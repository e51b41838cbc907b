"""Configuration errors: "FILE:LINE:COL: message", and exit code 1 from the command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.export import config


def _err(tmp_path: Path, text: str) -> config.ConfigError:
    f = tmp_path / "exporter.yaml"
    f.write_text(text)
    with pytest.raises(config.ConfigError) as e:
        config.load([str(f)])
    return e.value


@pytest.mark.parametrize("text,line,col,words", [
    ("listen: 127.0.0.1:9435\nfoo: 1\n", 2, 1, "unknown key 'foo'"),
    ("modules:\n  - path: nothere.py\n", 2, 11, "no such file"),
    ("modules:\n  - {path: a.py, module: b}\n", 2, 5, "exactly one of"),
    ("defaults: [syscalls,\n  nosuch]\n", 2, 3, "no default group 'nosuch'"),
    ("defaults: maybe\n", 1, 11, "true, false"),
    ("limit: 0\n", 1, 8, "integer from 1"),
    ("listen: nowhere\n", 1, 9, "HOST:PORT"),
    ("metrics:\n  a_total:\n    limit: -3\n", 3, 12, "integer from 1"),
    ("listen: [\n", 2, 1, "not valid YAML"),
    ("modules:\n  - module: m\n    metrics:\n      - {name: x_total, type: timer, map: m}\n",
     4, 31, "counter, gauge or histogram"),
    ("modules:\n  - module: m\n    metrics:\n      - name: x_total\n        type: counter\n"
     "        map: m\n        labels:\n          - {name: e, decoder: wrong}\n",
     8, 32, "unknown decoder"),
])
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, col: int,
                                   words: str) -> None:
    e = _err(tmp_path, text)
    assert (e.line, e.col) == (line, col), str(e)
    assert words in e.message
    assert str(e).startswith(f"{tmp_path / 'exporter.yaml'}:{line}:{col}: ")


def test_full_config_parses(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("")
    f = tmp_path / "c.yaml"
    f.write_text("""
listen: "[::1]:9999"
defaults: [syscalls, tcp]
limit: 50
modules:
  - path: m.py
    limit: 7
    metrics:
      - name: m_total
        type: counter
        map: counts
        labels: [pid, {name: op, decoder: {static: {0: read}, default: other}}]
metrics:
  pybpf_syscalls_total: {limit: 3}
""")
    cfg = config.load([str(f)])
    assert cfg.listen == "[::1]:9999" and config.parse_listen(cfg.listen) == ("::1", 9999)
    assert cfg.defaults == ["syscalls", "tcp"] and cfg.limit == 50
    assert cfg.limits == {"pybpf_syscalls_total": 3}
    (mod,) = cfg.modules
    assert mod.path == str(tmp_path / "m.py") and mod.limit == 7
    (ms,) = mod.metrics
    assert ms.labels[0] == ("pid", "int")
    assert ms.labels[1][1](0) == "read" and ms.labels[1][1](3) == "other"


def test_module_errors_name_the_config_line(tmp_path: Path) -> None:
    from pybpf.export.exporter import Exporter

    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    f = tmp_path / "c.yaml"
    f.write_text("defaults: false\nmodules:\n  - path: broken.py\n")
    with pytest.raises(config.ConfigError, match=r"c\.yaml:3:5: module .*broken\.py: "
                                                 r"RuntimeError: boom"):
        Exporter(config.load([str(f)])).build()


def test_cli_exit_code_1(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("listen: 127.0.0.1:0\nmodules:\n  - path: missing.py\n")
    r = subprocess.run([sys.executable, "-m", "pybpf.cli", "export", "--config", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert f"{f}:3:11: no such file: missing.py" in r.stderr
    assert "Traceback" not in r.stderr
