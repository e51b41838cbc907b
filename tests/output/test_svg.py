"""Heat maps and flame graphs: well-formed, self-contained SVG with the expected elements."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pybpf.output import flamegraph, heatmap

NS = "{http://www.w3.org/2000/svg}"


def test_heatmap_svg() -> None:
    cols = [(0.0, {1: 3, 4: 1}), (1.0, {}), (2.0, {0: 2, 10: 7})]
    svg = heatmap.heatmap_svg(cols, "usecs", title="vda <latency> & more")
    root = ET.fromstring(svg)
    assert root.tag == NS + "svg"
    cells = [r for r in root.iter(NS + "rect") if r.get("class") == "cell"]
    assert len(cells) == 4  # bucket 0 and 1 merge into the "0 -> 1" row
    titles = [c.find(NS + "title").text for c in cells]
    assert "t=2.0s 512-1023 usecs: 7" in titles
    assert "t=0.0s 0-1 usecs: 3" in titles
    # the densest cell is the darkest
    fills = {c.find(NS + "title").text: c.get("fill") for c in cells}
    assert fills["t=2.0s 512-1023 usecs: 7"] == "rgb(165,25,20)"
    labels = [t.text for t in root.iter(NS + "text") if t.get("class") == "ylabel"]
    assert labels[0] == "0 -> 1" and labels[-1] == "512 -> 1023" and len(labels) == 10
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_heatmap_empty() -> None:
    root = ET.fromstring(heatmap.heatmap_svg([], "usecs"))
    assert root.tag == NS + "svg"


def test_flamegraph_svg() -> None:
    folded = flamegraph.parse_folded("main;work;spin 30\nmain;idle 10\nmain;work;spin 10\n"
                                     "bad line\n")
    assert folded == {"main;work;spin": 40, "main;idle": 10}
    svg = flamegraph.flamegraph_svg(folded, title="CPU <profile>")
    root = ET.fromstring(svg)
    frames = [g for g in root.iter(NS + "g") if g.get("class") == "frame"]
    names = [g.get("data-name") for g in frames]
    assert names == ["all", "main", "idle", "work", "spin"]
    titles = {g.get("data-name"): g.find(NS + "title").text for g in frames}
    assert titles["spin"] == "spin (40 samples, 80.00%)"
    assert titles["all"] == "all (50 samples, 100.00%)"
    widths = {g.get("data-name"): float(g.find(NS + "rect").get("width")) for g in frames}
    assert widths["work"] > 3 * widths["idle"]
    assert root.find(NS + "script") is not None  # click-to-zoom
    assert "addEventListener(\"click\"" in svg


def test_fold_line() -> None:
    assert flamegraph.fold_line(["a b", "c;d"], 3) == "a_b;c:d 3"
