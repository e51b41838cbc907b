"""Configurations that once gave a traceback, were accepted wrongly, or hung start-up: each is
now one line "pybpf export: FILE:LINE:COL: message" and exit 1, quickly. Non-ASCII digits
("²", "٣": str.isdigit() and int() take them) in static table keys, label names and the
port; bytes that are not UTF-8; 20,000 nested brackets; a YAML alias bomb, an alias inside
itself and a deep alias chain; control characters, bad tags, unhashable keys. Ordinary
anchors and aliases, a byte-order mark and big static tables still work.

Each bad file runs through the command in a child process with a time-out (a hang fails the
test instead of stopping the suite); no root is needed, as nothing gets to the kernel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.export import config

LABELS = "modules:\n  - path: m.py\n    metrics:\n      - name: x_total\n        type: counter\n" \
         "        map: m\n        labels:\n"  # the label list starts on line 8


def _bomb() -> str:
    rows = ['              a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        rows.append(f"              a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]")
    return LABELS + "          - name: e\n            decoder:\n" + "\n".join(rows) + "\n"


def _alias_chain(n: int) -> str:
    entries = ", ".join(["0: &c0 [x]"] + [f"{i}: &c{i} [*c{i - 1}]" for i in range(1, n)])
    return LABELS + "          - {name: e, decoder: {" + entries + "}}\n"


CASES: list[tuple[str, bytes, int, int, str]] = [
    # id, file content, line, column, words in the message
    ("superscript-two-static-key",
     (LABELS + '          - {name: e, decoder: {static: {"²": two}}}\n').encode(), 8, 42,
     "static table key '²': give an integer"),
    ("arabic-indic-static-key",
     (LABELS + '          - {name: e, decoder: {"٣": three}}\n').encode(), 8, 33,
     "static table key '٣'"),
    ("arabic-indic-label-name", (LABELS + '          - "a٣"\n').encode(), 8, 13,
     "'a٣' is not a Prometheus label name"),
    ("label-name-with-newline", (LABELS + '          - {name: "a\\n"}\n').encode(), 8, 20,
     "is not a Prometheus label name"),
    ("reserved-label-name", (LABELS + "          - __x\n").encode(), 8, 13,
     "not a Prometheus label name"),
    ("non-ascii-metric-name",
     b"modules:\n  - module: m\n    metrics:\n      - {name: \"x\xd9\xa3_total\", "
     b"type: counter, map: m}\n", 4, 16, "is not a Prometheus metric name"),
    ("arabic-indic-port", "listen: 127.0.0.1:٣٣\n".encode(), 1, 9, "give HOST:PORT"),
    ("superscript-port", "listen: 127.0.0.1:²\n".encode(), 1, 9, "give HOST:PORT"),
    ("latin-1-file", b"limit: 3\n# caf\xe9\n", 2, 6, "not UTF-8 text (byte 0xe9)"),
    ("invalid-utf8-in-value", b'listen: "\xff\xfe"\n', 1, 10, "not UTF-8 text (byte 0xff)"),
    ("20000-nested-lists", ("defaults: " + "[" * 20000 + "]" * 20000 + "\n").encode(), 1, 74,
     "nested deeper than 64 levels"),
    ("20000-nested-maps", ("defaults: " + "{a: " * 20000 + "1" + "}" * 20000 + "\n").encode(),
     1, 260, "nested deeper than 64 levels"),
    ("alias-bomb", _bomb().encode(), 15, 19, "more than 100000 nodes"),  # at &a5: 9**6
    ("alias-inside-itself", b"listen: &a [*a]\n", 1, 13, "alias *a is inside the node"),
    ("deep-alias-chain", _alias_chain(2000).encode(), 8, None,  # type: ignore[list-item]
     "levels once *c"),
    ("control-character", b"limit: 3\nlisten: \x01\n", 2, 9, "U+0001"),
    ("bad-int-tag", b"limit: !!int foo\n", 1, 8, "limit: invalid literal"),
    ("python-tag", b"limit: !!python/name:os.system x\n", 1, 8,
     "could not determine a constructor"),
    ("unhashable-static-key", (LABELS + "          - {name: e, decoder: {[1]: a}}\n").encode(),
     8, 33, "a static table's key must be a single value"),
    ("duplicate-anchor", b"listen: &a 1\nlimit: &a 2\n", 2, 8, "duplicate anchor 'a'"),
    # a module's path: runs as code, so it stays in the configuration's folder
    ("module-path-traversal", LABELS.replace("m.py", "../m.py").encode() +
     b"          - pid\n", 2, 11, "leaves the configuration's folder"),
    ("module-path-absolute", LABELS.replace("m.py", "/etc/passwd").encode() +
     b"          - pid\n", 2, 11, "leaves the configuration's folder"),
    ("module-path-not-python", LABELS.replace("m.py", "bad.yaml").encode() +
     b"          - pid\n", 2, 11, "give a Python file (.py)"),
    ("seventeen-labels", (LABELS + "".join(f"          - l{i}\n" for i in range(17))).encode(),
     24, 13, "more than 16 labels"),
    ("label-twice", (LABELS + "          - pid\n          - {name: pid}\n").encode(), 9, 13,
     "label 'pid' is given twice"),
    ("huge-limit", b"limit: 100000000000\n", 1, 8, "limit must be an integer from 1 to 1000000"),
]


@pytest.mark.parametrize("content,line,col,words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_config_is_one_line_error(tmp_path: Path, content: bytes, line: int,
                                          col: int | None, words: str) -> None:
    (tmp_path / "m.py").write_text("")
    f = tmp_path / "bad.yaml"
    f.write_bytes(content)
    r = subprocess.run([sys.executable, "-m", "pybpf.cli", "export", "--no-defaults",
                        "--config", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr[-2000:]
    prefix = f"pybpf export: {f}:{line}:" + ("" if col is None else f"{col}: ")
    assert lines[0].startswith(prefix), lines[0]
    assert words in lines[0], lines[0]


def test_module_writable_by_others_is_refused(tmp_path: Path) -> None:
    m = tmp_path / "m.py"
    m.write_text("")
    m.chmod(0o666)
    f = tmp_path / "c.yaml"
    f.write_text(LABELS + "          - pid\n")
    with pytest.raises(config.ConfigError) as e:
        config.load([str(f)])
    assert (e.value.line, e.value.col) == (2, 11) and "writable by others" in e.value.message


def test_module_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("")
    inner = tmp_path / "conf"
    inner.mkdir()
    (inner / "m.py").symlink_to(outside)
    f = inner / "c.yaml"
    f.write_text(LABELS + "          - pid\n")
    with pytest.raises(config.ConfigError) as e:
        config.load([str(f)])
    assert "leaves the configuration's folder" in e.value.message


def test_error_positions_in_python(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(LABELS.replace("path: m.py", "module: m") + "          - {name: \"b٣\"}\n")
    with pytest.raises(config.ConfigError) as e:
        config.load([str(f)])
    assert (e.value.file, e.value.line, e.value.col) == (str(f), 8, 20)
    assert str(e.value) == f"{f}:8:20: {e.value.message}"


def test_ordinary_aliases_bom_and_big_tables_still_work(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("")
    table = ", ".join(f"{i}: n{i}" for i in range(5000))
    f = tmp_path / "c.yaml"
    f.write_bytes(("\ufeff" + f"""defaults: false
modules:
  - path: m.py
    metrics:
      - name: a_total
        type: counter
        map: m
        labels: &shared [pid, {{name: op, decoder: {{static: {{{table}}}, default: other}}}}]
      - name: b_total
        type: counter
        map: m
        labels: *shared
      - name: c_total
        type: counter
        map: m
        labels: [{{name: port, decoder: {{"-1": minus, "443": https}}}}]
""").encode())
    (mod,) = config.load([str(f)]).modules
    a, b, c = mod.metrics
    assert a.labels[0] == ("pid", "int") and b.labels[0] == ("pid", "int")
    for m in (a, b):
        assert m.labels[1][1](4999) == "n4999" and m.labels[1][1](5000) == "other"
    assert c.labels[0][1](443) == "https" and c.labels[0][1](-1) == "minus"


def test_docs_say_modules_are_code() -> None:
    from pybpf.export import exporter

    r = subprocess.run([sys.executable, "-m", "pybpf.cli", "export", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert "Python code" in " ".join(r.stdout.split()), r.stdout
    for doc in (config.__doc__, exporter.__doc__):
        assert doc is not None and "trust" in doc and "Python code" in " ".join(doc.split())
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    (row,) = [ln for ln in readme.splitlines() if ln.startswith("| `pybpf export")]
    assert "`path:`" in row and "Python code" in row and "trust" in row
