"""Headless Chromium for the SVG tests: load a page, run a check script in it, read back
what the script wrote into the DOM (and any script errors), take screenshots."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian package "
                                    "`chromium`; .ci/run installs it)")
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
          "--disable-extensions", "--allow-file-access-from-files"]


def _run(args: list[str], home: Path) -> str:
    env = dict(os.environ, HOME=str(home))  # a profile of its own, not the user's
    proc = subprocess.run([CHROMIUM, *_FLAGS, f"--user-data-dir={home / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, env=env)
    return proc.stdout


def check_page(tmp: Path, svgs: list[str], script: str) -> dict:
    """Embed `svgs` inline in an HTML page, run `script` (JS; its value `result` is an
    object) after them, and return that object plus "errors": every uncaught script error
    of the page (the SVGs' own scripts included)."""
    body = "\n".join(f'<div class="fig">{s}</div>' for s in svgs)
    page = tmp / "page.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><script>window.__errors = [];"
        "window.addEventListener('error', function (e) { window.__errors.push("
        "String(e.message)); });</script></head><body>" + body +
        "<pre id='result'></pre><script>var result = {};try {" + script +
        "} catch (e) { window.__errors.push('check: ' + e); }"
        "result.errors = window.__errors;"
        "document.getElementById('result').textContent = JSON.stringify(result);"
        "</script></body></html>")
    dom = _run(["--dump-dom", page.as_uri()], tmp)
    m = re.search(r"<pre id=\"result\">(.*?)</pre>", dom, re.S)
    assert m, f"chromium gave no result (output: {dom[:300]!r})"
    return json.loads(html.unescape(m.group(1)))


def dump_dom(tmp: Path, url: str) -> str:
    return _run(["--dump-dom", url], tmp)


def screenshot(tmp: Path, url: str, name: str, size: tuple[int, int]) -> Path:
    """A PNG of `url` (kept with the test's temporary files as an artefact)."""
    out = tmp / f"{name}.png"
    _run([f"--screenshot={out}", f"--window-size={size[0]},{size[1]}",
          "--hide-scrollbars", url], tmp)
    return out
