"""Flame graphs: folded stacks ("root;child;leaf count" lines) to a self-contained SVG with a
hover title on every frame and click-to-zoom (an inline script; no network needed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pybpf.output.svg import esc, flame_colour

FRAME_H = 16
WIDTH = 1200
PAD = 10
TOP = 36


@dataclass
class Node:
    name: str
    value: int = 0
    children: dict[str, Node] = field(default_factory=dict)


def fold_line(frames: Iterable[str], count: int) -> str:
    """One folded line: frames root first, ';'-joined (';' inside names becomes ':')."""
    return ";".join(f.replace(";", ":").replace(" ", "_") for f in frames) + f" {count}"


def parse_folded(text: str) -> dict[str, int]:
    """Folded text -> {stack: count} (counts of repeated stacks add up)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or " " not in line:
            continue
        stack, _, n = line.rpartition(" ")
        try:
            out[stack] = out.get(stack, 0) + int(n)
        except ValueError:
            continue
    return out


def build_tree(folded: Mapping[str, int]) -> Node:
    root = Node("all")
    for stack, n in folded.items():
        if n <= 0:
            continue
        root.value += n
        node = root
        for frame in stack.split(";"):
            child = node.children.get(frame)
            if child is None:
                child = node.children[frame] = Node(frame)
            child.value += n
            node = child
    return root


def _depth(node: Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0)


_SCRIPT = """
<script type="text/ecmascript"><![CDATA[
(function () {
  var W = %(width)d, PAD = %(pad)d;
  var frames = Array.prototype.slice.call(document.querySelectorAll("g.frame"));
  function show(g) {
    var x = +g.getAttribute("data-x"), w = +g.getAttribute("data-w"),
        d = +g.getAttribute("data-depth");
    var scale = (W - 2 * PAD) / w;
    frames.forEach(function (f) {
      var fx = +f.getAttribute("data-x"), fw = +f.getAttribute("data-w"),
          fd = +f.getAttribute("data-depth");
      var inside = fx >= x - 1e-9 && fx + fw <= x + w + 1e-9;
      var below = fd < d && fx <= x + 1e-9 && fx + fw >= x + w - 1e-9;
      var r = f.querySelector("rect"), t = f.querySelector("text");
      if (!(inside || below)) { f.style.display = "none"; return; }
      f.style.display = "";
      var nx = below ? PAD : PAD + (fx - x) * scale, nw = below ? W - 2 * PAD : fw * scale;
      r.setAttribute("x", nx); r.setAttribute("width", Math.max(nw - 0.5, 0.1));
      t.setAttribute("x", nx + 3);
      var label = f.getAttribute("data-name"), room = Math.floor((nw - 6) / 7);
      t.textContent = room < 3 ? "" : (label.length > room ? label.slice(0, room - 2) + ".." : label);
    });
  }
  frames.forEach(function (f) { f.addEventListener("click", function () { show(f); }); });
  var reset = document.getElementById("reset");
  if (reset) reset.addEventListener("click", function () { show(frames[0]); });
})();
]]></script>
"""


def flamegraph_svg(folded: Mapping[str, int], title: str = "Flame Graph",
                   unit: str = "samples") -> str:
    """The SVG text of a flame graph of `folded` ({"a;b;c": count}), root at the bottom."""
    root = build_tree(folded)
    depth = _depth(root)
    height = TOP + depth * FRAME_H + 2 * PAD
    total = root.value or 1
    usable = WIDTH - 2 * PAD
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="Verdana, sans-serif" font-size="12">',
           f"<title>{esc(title)}</title>",
           '<style>g.frame:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }'
           "</style>",
           f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fdf6ec"/>',
           f'<text x="{WIDTH / 2:.0f}" y="22" text-anchor="middle" font-size="16">'
           f"{esc(title)}</text>",
           f'<text id="reset" x="{PAD}" y="22" style="cursor:pointer">Reset Zoom</text>']

    def emit(node: Node, x: float, d: int) -> None:
        w = node.value / total * usable
        y = height - PAD - (d + 1) * FRAME_H
        pct = 100.0 * node.value / total
        room = int((w - 6) / 7)
        label = node.name if len(node.name) <= room else (
            node.name[:room - 2] + ".." if room >= 3 else "")
        colour = "rgb(230,230,230)" if d == 0 else flame_colour(node.name)
        out.append(f'<g class="frame" data-name="{esc(node.name)}" data-x="{x - PAD:.4f}" '
                   f'data-w="{w:.4f}" data-depth="{d}">'
                   f"<title>{esc(node.name)} ({node.value} {esc(unit)}, {pct:.2f}%)</title>"
                   f'<rect x="{x:.2f}" y="{y}" width="{max(w - 0.5, 0.1):.2f}" '
                   f'height="{FRAME_H - 1}" fill="{colour}" rx="2"/>'
                   f'<text x="{x + 3:.2f}" y="{y + FRAME_H - 4}">{esc(label)}</text></g>')
        cx = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            emit(child, cx, d + 1)
            cx += child.value / total * usable

    emit(root, PAD, 0)
    out.append(_SCRIPT % {"width": WIDTH, "pad": PAD})
    out.append("</svg>")
    return "\n".join(out) + "\n"
