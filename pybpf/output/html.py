"""A self-contained HTML page: the text report and inline SVGs (no scripts or styles fetched
from the network)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_STYLE = """
body { font-family: Verdana, sans-serif; margin: 1.5em; color: #222; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 12px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
.figure { border: 1px solid #ddd; padding: 0.5em; margin: 1em 0; overflow-x: auto; }
"""


def render_html(title: str, text: str, figures: Sequence[tuple[str, str]]) -> str:
    """`figures` are (caption, SVG text); the SVGs are embedded as they are."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{escape(title)}</title>", f"<style>{_STYLE}</style></head><body>",
             f"<h1>{escape(title)}</h1>", f"<pre>{escape(text)}</pre>"]
    for caption, svg in figures:
        body = svg.split("?>", 1)[1] if svg.lstrip().startswith("<?xml") else svg
        parts.append(f'<h2>{escape(caption)}</h2><div class="figure">{body}</div>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
