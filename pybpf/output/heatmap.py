"""Latency heat maps as self-contained SVG: time on x, latency bucket (log2) on y, each cell
coloured by how many events fell in it, with the exact count in a hover title."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pybpf.output.hist import log2_bounds
from pybpf.output.svg import esc, heat_colour

CELL_W, CELL_H = 14, 14
LEFT, TOP, BOTTOM, RIGHT = 150, 40, 40, 20


def heatmap_svg(columns: Sequence[tuple[float, Mapping[int, int]]], unit: str = "usecs",
                title: str = "Latency heat map", interval: float = 1.0) -> str:
    """`columns` are (seconds since start, {log2 bucket: count}) in time order; buckets use
    pybpf's numbering (0 holds zero, k holds [2^(k-1), 2^k))."""
    rows = sorted({max(k, 1) for _, col in columns for k, v in col.items() if v})
    lo, hi = (rows[0], rows[-1]) if rows else (1, 1)
    nrows = hi - lo + 1
    ncols = max(len(columns), 1)
    width = LEFT + ncols * CELL_W + RIGHT
    height = TOP + nrows * CELL_H + BOTTOM
    peak = max((v for _, col in columns for v in col.values()), default=0) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Verdana, sans-serif" font-size="11">',
           f"<title>{esc(title)}</title>",
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" font-size="15">'
           f"{esc(title)}</text>",
           '<g class="cells">']
    for ci, (t, col) in enumerate(columns):
        merged: dict[int, int] = {}
        for k, v in col.items():
            merged[max(k, 1)] = merged.get(max(k, 1), 0) + v
        x = LEFT + ci * CELL_W
        for k, v in merged.items():
            if not v:
                continue
            y = TOP + (hi - k) * CELL_H
            low, high = log2_bounds(k)
            out.append(f'<rect class="cell" x="{x}" y="{y}" width="{CELL_W}" '
                       f'height="{CELL_H}" fill="{heat_colour(v / peak)}">'
                       f"<title>t={t:.1f}s {low}-{high} {esc(unit)}: {v}</title></rect>")
    out.append("</g>")
    # y axis: bucket ranges
    for k in range(lo, hi + 1):
        low, high = log2_bounds(k)
        y = TOP + (hi - k) * CELL_H + CELL_H - 3
        out.append(f'<text class="ylabel" x="{LEFT - 6}" y="{y}" text-anchor="end">'
                   f"{low} -&gt; {high}</text>")
    out.append(f'<text x="12" y="{TOP + nrows * CELL_H / 2:.0f}" '
               f'transform="rotate(-90 12 {TOP + nrows * CELL_H / 2:.0f})" '
               f'text-anchor="middle">{esc(unit)}</text>')
    # x axis: time labels every ~10 columns
    step = max(1, ncols // 10)
    base_y = TOP + nrows * CELL_H
    out.append(f'<line x1="{LEFT}" y1="{base_y}" x2="{LEFT + ncols * CELL_W}" y2="{base_y}" '
               'stroke="#888"/>')
    for ci in range(0, len(columns), step):
        t = columns[ci][0]
        out.append(f'<text class="xlabel" x="{LEFT + ci * CELL_W}" y="{base_y + 14}">'
                   f"{t:.0f}s</text>")
    out.append(f'<text x="{LEFT + ncols * CELL_W / 2:.0f}" y="{height - 6}" '
               f'text-anchor="middle">time (one column per {interval:g} s)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
