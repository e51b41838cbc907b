"""Flame graphs: folded input (flamegraph.pl's and difffolded.pl's formats), palettes, the
icicle layout, differential colouring, and the interactivity in headless Chromium."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from pybpf.output import flamegraph, svg
from tests.output.browser import check_page, dump_dom, needs_chromium, screenshot

NS = "{http://www.w3.org/2000/svg}"
FOLDED = {"main;work;spin": 40, "main;idle": 10, "main;work;read;vfs_read_[k]": 5,
          "other;spin": 5}


def _frames(text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(text)
    out: dict[str, ET.Element] = {}
    for g in root.iter(NS + "g"):
        if g.get("class") == "frame":
            out.setdefault(g.get("data-name"), g)  # the first in document order
    return out


def _y(g: ET.Element) -> float:
    return float(g.find(NS + "rect").get("y"))


def test_parse_folded_formats():
    text = ("java;Foo.bar (Foo.java:12) 3\n"   # spaces inside frames
            "a;b 1.5\n"                       # fractional counts
            "a;b 2\n"
            "x;y 4 6\n"                       # difffolded: before after
            "garbage\n\n")
    lines, ignored = flamegraph.parse_folded_lines(text)
    assert lines["java;Foo.bar (Foo.java:12)"] == (3, None)
    assert lines["a;b"] == (3.5, None)
    assert lines["x;y"] == (4, 6)
    assert ignored == [5]
    assert flamegraph.parse_folded(text)["x;y"] == 6


def test_svg_has_every_function_and_controls():
    text = flamegraph.flamegraph_svg(FOLDED, "CPU <profile>", subtitle="2 s at 99 Hz")
    frames = _frames(text)
    assert set(frames) == {"all", "main", "work", "spin", "idle", "read", "vfs_read_[k]",
                           "other"}
    assert frames["spin"].find(NS + "title").text == "spin (40 samples, 66.67%)"
    assert frames["all"].get("data-details") == "Function: all (60 samples, 100.00%)"
    root = ET.fromstring(text)
    classes = {t.get("class") for t in root.iter(NS + "text")}
    assert {"button reset hide", "button search", "details", "matched"} <= classes
    assert "2 s at 99 Hz" in text
    # flame layout: children above their parents
    assert _y(frames["work"]) < _y(frames["main"]) < _y(frames["all"])


def test_inverted_and_width():
    text = flamegraph.flamegraph_svg(FOLDED, inverted=True, width=800)
    frames = _frames(text)
    assert _y(frames["all"]) < _y(frames["main"]) < _y(frames["work"])
    assert ET.fromstring(text).get("width") == "800"
    assert float(frames["all"].find(NS + "rect").get("width")) == pytest.approx(780 - 0.5)


@pytest.mark.parametrize("palette", ["hot", "offcpu", "io", "mem"])
def test_palettes_differ_and_are_stable(palette):
    text = flamegraph.flamegraph_svg(FOLDED, palette=palette)
    fill = _frames(text)["spin"].find(NS + "rect").get("fill")
    assert fill == svg.palette_colour("spin", palette)
    r, g, b = map(int, re.findall(r"\d+", fill))
    if palette == "offcpu":
        assert b > r and b > g  # blue
    if palette == "hot":
        assert r > b and r >= 200


def test_language_palette_by_frame_kind():
    kinds = {"vfs_read_[k]": "kernel", "Interpreter_[j]": "jit", "inl_[i]": "inlined",
             "run (app.py:12)": "interpreted", "java/lang/Thread.run": "interpreted",
             "std::vector::push": "cpp", "malloc": "native",
             "[unknown] [libc.so.6]": "native"}
    assert {n: svg.frame_kind(n) for n in kinds} == kinds
    k = svg.palette_colour("vfs_read_[k]", "python")
    r, g, b = map(int, re.findall(r"\d+", k))
    assert r > g > b  # orange
    py = svg.palette_colour("run (app.py:12)", "python")
    assert int(re.findall(r"\d+", py)[1]) >= 200  # green


def test_unknown_palette_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown palette 'rainbow'"):
        flamegraph.flamegraph_svg(FOLDED, palette="rainbow")


def test_differential_colours():
    before = {"main;work;spin": 40, "main;idle": 10, "main;same": 5}
    after = {"main;work;spin": 20, "main;idle": 30, "main;new": 10, "main;same": 5}
    text = flamegraph.flamegraph_svg(after, baseline=before)
    frames = _frames(text)
    fill = {n: tuple(map(int, re.findall(r"\d+", g.find(NS + "rect").get("fill"))))
            for n, g in frames.items()}
    assert fill["idle"][0] == 255 and fill["idle"][2] < 255  # grew: red
    assert fill["spin"][2] == 255 and fill["spin"][0] < 255  # shrank: blue
    assert fill["same"] == (250, 250, 250)  # unchanged: white
    assert fill["main"][0] == 255  # 55 -> 65: grew a little: pale red
    assert fill["main"][1] > fill["idle"][1]
    assert "idle (30 samples, 46.15%; +20, +200.00%)" in frames["idle"].find(NS + "title").text
    negated = _frames(flamegraph.flamegraph_svg(after, baseline=before, negate=True))
    assert negated["idle"].find(NS + "rect").get("fill").startswith("rgb(")
    assert tuple(map(int, re.findall(r"\d+", negated["idle"].find(NS + "rect").get("fill"))
                     ))[2] == 255


def test_diff_folded_normalize():
    pairs = flamegraph.diff_folded({"a": 10, "b": 10}, {"a": 30, "c": 10}, normalize=True)
    assert pairs == {"a": (20.0, 30.0), "b": (20.0, 0.0), "c": (0.0, 10.0)}


_CHECK = """
var svg = document.querySelector("svg.flamegraph");
function g(name) { return svg.querySelector('g.frame[data-name="' + name + '"]'); }
function w(name) { return +g(name).querySelector("rect").getAttribute("width"); }
result.before = {work: w("work"), idle: w("idle")};
g("work").dispatchEvent(new MouseEvent("click", {bubbles: true}));
result.zoomed = {work: w("work"), spin: w("spin"), idleShown: g("idle").style.display,
                 mainFaded: g("main").classList.contains("parent"),
                 workFaded: g("work").classList.contains("parent"),
                 mainOpacity: getComputedStyle(g("main")).opacity,
                 resetHidden: svg.querySelector(".reset").classList.contains("hide")};
g("spin").dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
result.details = svg.querySelector(".details").textContent;
svg.querySelector(".reset").dispatchEvent(new MouseEvent("click", {bubbles: true}));
result.reset = {work: w("work"), idleShown: g("idle").style.display,
                resetHidden: svg.querySelector(".reset").classList.contains("hide")};
result.pct = svg.pybpf.search("^spin$");
result.matched = svg.querySelector(".matched").textContent;
result.spinFill = g("spin").querySelector("rect").getAttribute("fill");
result.idleFill = g("idle").querySelector("rect").getAttribute("fill");
result.button = svg.querySelector(".search").textContent;
window.prompt = function () { return "idle"; };
window.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"}));
window.dispatchEvent(new KeyboardEvent("keydown", {key: "f", ctrlKey: true}));
result.ctrlF = svg.querySelector(".matched").textContent;
"""


@needs_chromium
@pytest.mark.parametrize("inverted", [False, True])
def test_interactive_in_chromium(tmp_path, inverted):
    text = flamegraph.flamegraph_svg(FOLDED, "CPU", inverted=inverted)
    res = check_page(tmp_path, [text], _CHECK)
    assert res["errors"] == []
    full = 1180 - 0.5
    assert res["before"]["work"] == pytest.approx(45 / 60 * 1180 - 0.5, abs=0.01)
    z = res["zoomed"]
    assert z["work"] == pytest.approx(full) and z["spin"] == pytest.approx(40 / 45 * 1180 - 0.5,
                                                                           abs=0.01)
    assert z["idleShown"] == "none" and z["mainFaded"] and not z["workFaded"]
    assert float(z["mainOpacity"]) == pytest.approx(0.5) and not z["resetHidden"]
    assert res["details"] == "Function: spin (40 samples, 66.67%)"
    assert res["reset"] == {"work": pytest.approx(45 / 60 * 1180 - 0.5, abs=0.01),
                            "idleShown": "", "resetHidden": True}
    # spin twice (main;work;spin and other;spin): 45 of 60 samples
    assert res["matched"] == "Matched: 75.0%" and res["pct"] == pytest.approx(75)
    assert res["spinFill"] == flamegraph.SEARCH_FILL and res["idleFill"] != res["spinFill"]
    assert res["button"] == "Reset Search"
    assert res["ctrlF"] == "Matched: 16.7%"


@needs_chromium
def test_two_graphs_on_one_page_and_nested_matches(tmp_path):
    a = flamegraph.flamegraph_svg({"f;f;f": 10, "g": 10}, "A")
    b = flamegraph.flamegraph_svg({"h": 1}, "B", palette="offcpu")
    res = check_page(tmp_path, [a, b], """
var svgs = document.querySelectorAll("svg.flamegraph");
result.a = svgs[0].pybpf.search("^f$");
result.b = svgs[1].pybpf.search("^f$");
result.ids = svgs[0].id !== svgs[1].id;
""")
    assert res["errors"] == [] and res["ids"]
    assert res["a"] == pytest.approx(50)  # f inside f inside f counts once
    assert res["b"] == 0


@needs_chromium
def test_standalone_svg_search_from_url_and_screenshot(tmp_path):
    path = tmp_path / "fg.svg"
    path.write_text(flamegraph.flamegraph_svg(FOLDED, "CPU"))
    ET.parse(path)
    dom = dump_dom(tmp_path, path.as_uri() + "?s=idle")
    assert "Matched: 16.7%" in dom
    png = screenshot(tmp_path, path.as_uri() + "?s=spin", "flamegraph", (1220, 200))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
