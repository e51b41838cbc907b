"""Small helpers shared by the SVG renderers: escaping and colour scales."""

from __future__ import annotations

from xml.sax.saxutils import escape as _escape


def esc(text: object) -> str:
    """Text safe inside XML elements and double-quoted attributes."""
    return _escape(str(text), {'"': "&quot;"})


def heat_colour(fraction: float) -> str:
    """Pale yellow (few) through orange to dark red (most), for 0 < fraction <= 1."""
    f = min(max(fraction, 0.0), 1.0)
    r = int(255 - 90 * f)
    g = int(235 - 210 * f)
    b = int(170 - 150 * f)
    return f"rgb({r},{g},{b})"


def flame_colour(name: str) -> str:
    """A warm colour derived from the frame name (stable between runs)."""
    h = 0
    for ch in name:
        h = (h * 31 + ord(ch)) & 0xFFFFFF
    r = 205 + h % 50
    g = 80 + (h >> 8) % 130
    b = 40 + (h >> 16) % 50
    return f"rgb({r},{g},{b})"
