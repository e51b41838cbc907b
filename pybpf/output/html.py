"""The HTML page of `pybpf snapshot`: one standalone file (no network: styles inline, SVGs
inline, the only script the flame graph's own zoom), with the summary on top, a contents bar,
the same sections and tables as the text report (output.report), the histograms as bars, the
per-disk latency heat maps and the on-CPU flame graph scaled to the page's width."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from pybpf.output.hist import bcc_log2_values, log2_bounds
from pybpf.output.report import Section, Table, heading, sections

_STYLE = """
body { font-family: Verdana, Geneva, sans-serif; margin: 0 auto; max-width: 1400px;
       padding: 1em 1.5em; color: #222; background: #fff; font-size: 14px; }
h1 { font-size: 1.35em; margin-bottom: 0.2em; }
h2 { font-size: 1.1em; margin: 1.8em 0 0.5em; border-bottom: 1px solid #ccc; }
nav { position: sticky; top: 0; background: #f4f4f4; padding: 0.4em 0.6em; font-size: 12px;
      border: 1px solid #ddd; z-index: 1; }
nav a { margin-right: 0.8em; color: #225; text-decoration: none; white-space: nowrap; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 2px 6px; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { word-break: break-all; max-width: 60em; }
.scroll { overflow-x: auto; max-width: 100%; }
.more { color: #666; font-style: italic; }
.note { background: #fff4d6; border-left: 4px solid #e0a000; padding: 0.3em 0.6em; }
.sev-critical { background: #f8d0d0; } .sev-warning { background: #fff0c8; }
.sev-note { background: #e8f0ff; }
.ok { background: #e0f4e0; padding: 0.4em 0.6em; }
.hist td.bar { width: 320px; } .hist .b { background: #4a7fc0; height: 10px; }
.figure { border: 1px solid #ddd; padding: 0.5em; margin: 1em 0; }
.figure svg { max-width: 100%; height: auto; display: block; }
"""


def _table(t: Table, summary: bool = False) -> str:
    parts = ['<div class="scroll"><table>', "<tr>"
             + "".join(f"<th>{escape(h)}</th>" for h in t.headers) + "</tr>"]
    last = len(t.headers) - 1
    for row in t.rows:
        cls = f' class="sev-{escape(row[0])}"' if summary else ""
        cells = []
        for i, c in enumerate(row):
            kind = "n" if i in t.right else "wrap" if i == last else ""
            cells.append(f'<td class="{kind}">{escape(c)}</td>' if kind
                         else f"<td>{escape(c)}</td>")
        parts.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    parts.append("</table></div>")
    if t.more:
        parts.append(f'<p class="more">... and {t.more} more</p>')
    return "\n".join(parts)


def _hist(caption: str, buckets: Mapping[int, int]) -> str:
    """A log2 histogram as a table of ranges with bars (the text's stars)."""
    vals = bcc_log2_values(buckets)
    peak = max(vals, default=0) or 1
    first = next((i for i, v in enumerate(vals) if v), len(vals))
    rows = []
    for i in range(max(first, 1), len(vals)):
        low, high = log2_bounds(i)
        low = 0 if i == 1 else low
        width = 100.0 * vals[i] / peak
        rows.append(f'<tr><td class="n">{low} -&gt; {high}</td><td class="n">{vals[i]}</td>'
                    f'<td class="bar"><div class="b" style="width:{width:.1f}%"></div></td>'
                    "</tr>")
    cap = f"<p>{escape(caption)}</p>" if caption else ""
    return (f'{cap}<table class="hist"><tr><th>usecs</th><th>count</th><th>distribution</th>'
            "</tr>" + "".join(rows) + "</table>")


def _section(s: Section, figures: Sequence[tuple[str, str]]) -> str:
    parts = [f'<section id="{escape(s.key)}"><h2>{escape(s.title)}</h2>']
    for n in s.notes:
        parts.append(f'<p class="note">{escape(n)}</p>')
    for line in s.lines:
        cls = ' class="ok"' if s.key == "summary" else ""
        parts.append(f"<p{cls}>{escape(line)}</p>")
    for t in s.tables:
        parts.append(_table(t, summary=s.key == "summary"))
    for caption, buckets in s.hists:
        parts.append(_hist(caption, buckets))
    for caption, svg in figures:
        body = svg.split("?>", 1)[1] if svg.lstrip().startswith("<?xml") else svg
        parts.append(f'<h3>{escape(caption)}</h3><div class="figure">{body}</div>')
    parts.append("</section>")
    return "\n".join(parts)


def render_page(title: str, secs: Sequence[Section],
                figures: Mapping[str, Sequence[tuple[str, str]]]) -> str:
    """`figures`: per section key, (caption, SVG text) shown after that section's tables."""
    nav = " ".join(f'<a href="#{escape(s.key)}">{escape(s.title.split(" (")[0].split(":")[0])}'
                   "</a>" for s in secs)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(title)}</title>", f"<style>{_STYLE}</style></head><body>",
             f"<h1>{escape(title)}</h1>", f"<nav>{nav}</nav>"]
    parts += [_section(s, figures.get(s.key, ())) for s in secs]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_snapshot(r: dict[str, Any],
                    heat: Sequence[tuple[str, Sequence[tuple[float, Mapping[int, int]]]]],
                    folded: Mapping[str, int]) -> str:
    """The page of one snapshot: `heat` is (disk, heat map columns) per disk, `folded` the
    on-CPU stacks."""
    from pybpf.output.flamegraph import flamegraph_svg
    from pybpf.output.heatmap import heatmap_svg

    figures: dict[str, list[tuple[str, str]]] = {"block_io": [], "on_cpu": []}
    for disk, cols in heat:
        figures["block_io"].append((f"Block I/O latency heat map: {disk}",
                                    heatmap_svg(cols, "usecs", f"Block I/O latency: {disk}")))
    if folded:
        figures["on_cpu"].append(("On-CPU flame graph (click a frame to zoom)",
                                  flamegraph_svg(folded, "On-CPU stacks")))
    return render_page(heading(r), sections(r), figures)
