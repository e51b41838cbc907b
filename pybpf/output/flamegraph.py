"""Flame graphs: folded stacks ("root;child;leaf count" lines, flamegraph.pl's format) to a
self-contained SVG: hover titles, a details line, click-to-zoom with the zoomed frame's
ancestors faded, Reset Zoom, search (button, Ctrl-F or `?s=term` in the URL) that highlights
matches and shows "Matched: x%", palettes, an inverted (icicle) layout and differential
graphs (red grew, blue shrank). The interactivity is one inline script; no network."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pybpf.output.svg import PALETTES, diff_colour, esc, palette_colour

FRAME_H = 16
WIDTH = 1200
PAD = 10
TOP = 36
BOTTOM = 34
FONT = 12
CHAR_W = FONT * 0.59  # Verdana's average advance, as flamegraph.pl assumes
MIN_WIDTH = 0.1  # px: narrower frames (and their children) are left out of the picture
SEARCH_FILL = "rgb(230,0,230)"


@dataclass
class Node:
    name: str
    value: float = 0
    before: float = 0  # differential graphs: the same frame's value in the baseline
    children: dict[str, Node] = field(default_factory=dict)


def fold_line(frames: Iterable[str], count: int) -> str:
    """One folded line: frames root first, ';'-joined (';' inside names becomes ':')."""
    return ";".join(f.replace(";", ":").replace(" ", "_") for f in frames) + f" {count}"


def _number(text: str) -> float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        n = float(text)
    except ValueError:
        return None
    return n if n == n and n not in (float("inf"), float("-inf")) else None


def parse_folded_lines(text: str) -> tuple[dict[str, tuple[float, float | None]], list[int]]:
    """Folded text -> ({stack: (count, second count or None)}, numbers of ignored lines).
    A line is "stack count" (flamegraph.pl) or "stack before after" (difffolded.pl); the
    stack may contain spaces, the counts are the last fields. Repeated stacks add up."""
    out: dict[str, tuple[float, float | None]] = {}
    ignored: list[int] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        stack, _, last = line.rpartition(" ")
        n = _number(last)
        if not stack or n is None:
            ignored.append(lineno)
            continue
        second: float | None = None
        head, _, prev = stack.rpartition(" ")
        m = _number(prev) if head else None
        if m is not None:
            stack, n, second = head, m, n
        stack = stack.rstrip()
        old = out.get(stack)
        if old is not None:
            n += old[0]
            if second is not None or old[1] is not None:
                second = (second or 0) + (old[1] or 0)
        out[stack] = (n, second)
    return out, ignored


def parse_folded(text: str) -> dict[str, int]:
    """Folded text -> {stack: count} (counts of repeated stacks add up; a two-count line
    keeps its second, "after", count)."""
    lines, _ = parse_folded_lines(text)
    return {s: (b if b is not None else a) for s, (a, b) in lines.items()}


def diff_folded(before: Mapping[str, float], after: Mapping[str, float],
                normalize: bool = False) -> dict[str, tuple[float, float]]:
    """{stack: (before, after)} over the stacks of both (difffolded.pl's pairing);
    `normalize` scales `before` to the same total as `after` (difffolded.pl -n), so that a
    longer or busier second run does not paint everything red."""
    scale = 1.0
    if normalize:
        tb, ta = sum(before.values()), sum(after.values())
        scale = ta / tb if tb else 1.0
    out = {s: (v * scale, 0.0) for s, v in before.items()}
    for s, v in after.items():
        out[s] = (out.get(s, (0.0, 0.0))[0], float(v))
    return out


def build_tree(folded: Mapping[str, float],
               baseline: Mapping[str, float] | None = None) -> Node:
    root = Node("all")
    for stack, n in folded.items():
        if n > 0:
            _add(root, stack, n, "value")
    for stack, n in (baseline or {}).items():
        if n > 0:
            _add(root, stack, n, "before")
    return root


def _add(root: Node, stack: str, n: float, attr: str) -> None:
    node = root
    setattr(node, attr, getattr(node, attr) + n)
    for frame in stack.split(";"):
        if not frame:
            continue
        child = node.children.get(frame)
        if child is None:
            child = node.children[frame] = Node(frame)
        setattr(child, attr, getattr(child, attr) + n)
        node = child


def _depth(node: Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0)


def _fmt(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.2f}"


def _label(name: str, width: float) -> str:
    room = int((width - 6) / CHAR_W)
    if room < 3:
        return ""
    return name if len(name) <= room else name[:room - 2] + ".."


_SCRIPT = """
<script type="text/ecmascript"><![CDATA[
(function () {
  var svg = document.getElementById("%(id)s");
  var W = %(usable)s, PAD = %(pad)d, CHAR = %(char)s, FILL = "%(search_fill)s";
  var frames = Array.prototype.slice.call(svg.querySelectorAll("g.frame"));
  var details = svg.querySelector(".details"), matched = svg.querySelector(".matched");
  var reset = svg.querySelector(".reset"), search = svg.querySelector(".search");
  var term = null, zoomed = null;
  function num(f, a) { return +f.getAttribute(a); }
  function label(name, w) {
    var room = Math.floor((w - 6) / CHAR);
    if (room < 3) return "";
    return name.length > room ? name.slice(0, room - 2) + ".." : name;
  }
  function place(f, x, w) {
    var r = f.querySelector("rect"), t = f.querySelector("text");
    r.setAttribute("x", x.toFixed(2)); r.setAttribute("width", Math.max(w - 0.5, 0.1).toFixed(2));
    t.setAttribute("x", (x + 3).toFixed(2));
    t.textContent = label(f.getAttribute("data-name"), w);
  }
  function zoom(g) {
    var x = num(g, "data-x"), w = num(g, "data-w"), d = num(g, "data-depth");
    var scale = W / w;
    zoomed = g === frames[0] ? null : g;
    frames.forEach(function (f) {
      var fx = num(f, "data-x"), fw = num(f, "data-w"), fd = num(f, "data-depth");
      var inside = fd >= d && fx >= x - 1e-6 && fx + fw <= x + w + 1e-6;
      var ancestor = fd < d && fx <= x + 1e-6 && fx + fw >= x + w - 1e-6;
      f.classList.toggle("parent", ancestor && zoomed !== null);
      if (!(inside || ancestor) || (inside && fw * scale < 0.1)) {
        f.style.display = "none"; return;
      }
      f.style.display = "";
      if (ancestor) place(f, PAD, W); else place(f, PAD + (fx - x) * scale, fw * scale);
    });
    reset.classList.toggle("hide", zoomed === null);
  }
  function unzoom() { zoom(frames[0]); }
  function doSearch(t) {
    var re;
    try { re = new RegExp(t); } catch (e) { re = null; }
    term = t;
    var spans = [];
    frames.forEach(function (f) {
      var r = f.querySelector("rect"), name = f.getAttribute("data-name");
      var hit = !!t && (re ? re.test(name) : name.indexOf(t) >= 0) && f !== frames[0];
      f.classList.toggle("match", hit);
      r.setAttribute("fill", hit ? FILL : f.getAttribute("data-fill"));
      if (hit) spans.push([num(f, "data-x"), num(f, "data-x") + num(f, "data-w")]);
    });
    // a match inside another match is counted once: the union of the matched spans
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var total = 0, end = -1;
    spans.forEach(function (s) {
      if (s[0] >= end) { total += s[1] - s[0]; end = s[1]; }
      else if (s[1] > end) { total += s[1] - end; end = s[1]; }
    });
    var pct = spans.length ? 100 * total / W : 0;
    matched.textContent = spans.length ? "Matched: " + pct.toFixed(1) + "%%" : "";
    search.textContent = t ? "Reset Search" : "Search";
    return pct;
  }
  function ask() {
    if (term) { doSearch(null); return; }
    var t = window.prompt("Search for (regular expression):", "");
    if (t) doSearch(t);
  }
  frames.forEach(function (f) {
    f.addEventListener("click", function () { zoom(f); });
    f.addEventListener("mouseover", function () {
      details.textContent = f.getAttribute("data-details");
    });
    f.addEventListener("mouseout", function () { details.textContent = " "; });
  });
  reset.addEventListener("click", unzoom);
  search.addEventListener("click", ask);
  svg.addEventListener("mouseover", function () { window.pybpfActiveFlame = svg; });
  if (!window.pybpfActiveFlame) window.pybpfActiveFlame = svg;
  window.addEventListener("keydown", function (e) {
    if (window.pybpfActiveFlame !== svg) return;
    if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F") || e.key === "F3") {
      e.preventDefault(); ask();
    } else if (e.key === "Escape") { doSearch(null); unzoom(); }
  });
  svg.pybpf = { zoom: zoom, unzoom: unzoom, search: doSearch };
  var m = /[?&]s=([^&#]*)/.exec(document.URL);
  if (m) doSearch(decodeURIComponent(m[1].replace(/\\+/g, " ")));
})();
]]></script>
"""

_STYLE = """<style>
g.frame { cursor: pointer; }
g.frame:hover rect { stroke: #000; stroke-width: 0.5; }
g.frame.parent { opacity: 0.5; }
text.button { cursor: pointer; fill: #333; }
text.button:hover { fill: #c00; }
.hide { display: none; }
</style>"""


def flamegraph_svg(folded: Mapping[str, float], title: str = "Flame Graph",
                   unit: str = "samples", *, palette: str = "hot", width: int = WIDTH,
                   inverted: bool = False, subtitle: str = "",
                   baseline: Mapping[str, float] | None = None, negate: bool = False) -> str:
    """The SVG text of a flame graph of `folded` ({"a;b;c": count}), root at the bottom
    (at the top when `inverted`: an icicle graph). With `baseline` (the "before" profile)
    it is a differential graph: widths are `folded`'s, a frame is red where it grew and
    blue where it shrank; `negate` swaps the hues (flamegraph.pl --negate, for a graph drawn
    from the before profile)."""
    if palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r} (choose from {', '.join(PALETTES)})")
    width = max(int(width), 200)
    root = build_tree(folded, baseline)
    depth = _depth(root)
    top = TOP + (18 if subtitle else 0)
    height = top + depth * FRAME_H + BOTTOM
    total = root.value or 1
    usable = width - 2 * PAD
    ident = "fg" + hashlib.sha1(repr((title, sorted(folded.items()), depth)).encode()
                                ).hexdigest()[:10]
    peak = 0.0
    if baseline is not None:
        peak = max((d for c in root.children.values() for d in _deltas(c)), default=0.0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{ident}" class="flamegraph" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'font-family="Verdana, sans-serif" font-size="{FONT}">',
           f"<title>{esc(title)}</title>", _STYLE,
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fdf6ec"/>',
           f'<text x="{width / 2:.0f}" y="24" text-anchor="middle" font-size="17">'
           f"{esc(title)}</text>"]
    if subtitle:
        out.append(f'<text x="{width / 2:.0f}" y="42" text-anchor="middle" fill="#666">'
                   f"{esc(subtitle)}</text>")
    out += [f'<text class="button reset hide" x="{PAD}" y="24">Reset Zoom</text>',
            f'<text class="button search" x="{width - PAD}" y="24" text-anchor="end">'
            "Search</text>",
            f'<text class="details" x="{PAD}" y="{height - 12}"> </text>',
            f'<text class="matched" x="{width - PAD}" y="{height - 12}" '
            'text-anchor="end"></text>']

    def emit(node: Node, x: float, d: int) -> None:
        w = node.value / total * usable
        if w < MIN_WIDTH:
            return
        y = top + d * FRAME_H if inverted else top + (depth - 1 - d) * FRAME_H
        pct = 100.0 * node.value / total
        info = f"{node.name} ({_fmt(node.value)} {unit}, {pct:.2f}%"
        if baseline is not None:
            delta = node.value - node.before
            change = f"{delta / node.before * 100:+.2f}%" if node.before else "new"
            info += f"; {'+' if delta >= 0 else ''}{_fmt(delta)}, {change}"
            colour = diff_colour(-delta if negate else delta, peak)
        elif d == 0:
            colour = "rgb(220,220,220)"
        else:
            colour = palette_colour(node.name, palette)
        info += ")"
        out.append(f'<g class="frame" data-name="{esc(node.name)}" data-x="{x:.4f}" '
                   f'data-w="{w:.4f}" data-depth="{d}" data-fill="{colour}" '
                   f'data-details="{esc("Function: " + info)}">'
                   f"<title>{esc(info)}</title>"
                   f'<rect x="{PAD + x:.2f}" y="{y}" width="{max(w - 0.5, 0.1):.2f}" '
                   f'height="{FRAME_H - 1}" fill="{colour}" rx="2"/>'
                   f'<text x="{PAD + x + 3:.2f}" y="{y + FRAME_H - 4}">'
                   f"{esc(_label(node.name, w))}</text></g>")
        cx = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            emit(child, cx, d + 1)
            cx += child.value / total * usable

    emit(root, 0.0, 0)
    out.append(_SCRIPT % {"id": ident, "usable": f"{usable}", "pad": PAD,
                          "char": f"{CHAR_W:.3f}", "search_fill": SEARCH_FILL})
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _deltas(node: Node) -> Iterable[float]:
    yield abs(node.value - node.before)
    for c in node.children.values():
        yield from _deltas(c)
