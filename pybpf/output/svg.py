"""Small helpers shared by the SVG renderers: escaping and colour scales."""

from __future__ import annotations

# (not xml.sax.saxutils.escape: importing it pulls in urllib and http.client, 30 ms of every
# command's start-up)
_XML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def esc(text: object) -> str:
    """Text safe inside XML elements and double-quoted attributes."""
    return str(text).translate(_XML)


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


def _name_hash(name: str) -> tuple[float, float, float]:
    """Three numbers in [0, 1) from the frame name, so a function keeps its colour between
    graphs (and frames of one function in one graph look alike)."""
    h = 0
    for ch in name:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    return (h & 0x3FF) / 1024, ((h >> 10) & 0x3FF) / 1024, ((h >> 20) & 0x3FF) / 1024


def _rgb(r: float, g: float, b: float) -> str:
    return f"rgb({int(r)},{int(g)},{int(b)})"


def _hot(v1: float, v2: float, v3: float) -> str:
    return _rgb(205 + 50 * v3, 230 * v1, 55 * v2)


def _blue(v1: float, v2: float, v3: float) -> str:  # off-CPU time: cool, blocked
    return _rgb(60 + 60 * v1, 90 + 70 * v1, 190 + 60 * v2)


def _io(v1: float, v2: float, v3: float) -> str:  # I/O: aqua, apart from off-CPU's blue
    return _rgb(50 + 60 * v1, 165 + 55 * v1, 165 + 55 * v2)


def _mem(v1: float, v2: float, v3: float) -> str:
    return _rgb(0, 190 + 50 * v2, 210 * v1)


def _green(v1: float, v2: float, v3: float) -> str:
    return _rgb(50 * v1, 200 + 55 * v1, 60 * v2)


def _aqua(v1: float, v2: float, v3: float) -> str:
    return _rgb(50 + 60 * v1, 170 + 55 * v1, 170 + 55 * v1)


def _orange(v1: float, v2: float, v3: float) -> str:
    return _rgb(190 + 65 * v1, 90 + 65 * v1, 0)


def _yellow(v1: float, v2: float, v3: float) -> str:
    return _rgb(175 + 55 * v1, 175 + 55 * v1, 50 + 20 * v1)


def _red(v1: float, v2: float, v3: float) -> str:
    return _rgb(200 + 55 * v1, 50 + 80 * v1, 50 + 80 * v1)


def frame_kind(name: str) -> str:
    """What a frame is, from the annotations and spellings profilers use: "kernel"
    (`_[k]`, or an address in kernel space), "jit" (`_[j]`), "inlined" (`_[i]`),
    "interpreted" (Python `func (file.py:12)`, Java `pkg/Class.method` or `Lpkg/Class;`),
    "cpp" (`ns::func`) or "native"."""
    if name.endswith("_[k]") or name.startswith("0xffff"):
        return "kernel"
    if name.endswith("_[j]"):
        return "jit"
    if name.endswith("_[i]"):
        return "inlined"
    if ".py:" in name or name.endswith(".py)") or ".py " in name or name.startswith("<module>"):
        return "interpreted"
    if "::" in name:
        return "cpp"
    head = name.split("(", 1)[0]
    if ("/" in head or (head.count(".") >= 2 and " " not in head)) and "[" not in head \
            and ".so" not in head:
        return "interpreted"  # java/lang/Thread.run, org.example.Main.main
    return "native"


_BY_KIND = {"kernel": _orange, "jit": _green, "inlined": _aqua, "interpreted": _green,
            "cpp": _yellow, "native": _red}

PALETTES = ("hot", "offcpu", "io", "mem", "java", "python")


def palette_colour(name: str, palette: str = "hot") -> str:
    """The fill of a frame named `name` under `palette` (one of PALETTES): "hot" is
    flamegraph.pl's default red-yellow, "offcpu" blue (blocked time), "io" aqua, "mem" green,
    "java"/"python" colour by what the frame is (kernel orange, interpreted or JIT green,
    inlined aqua, C++ yellow, native red), so interpreter and user code stand apart."""
    v = _name_hash(name)
    if palette in ("java", "python"):
        return _BY_KIND[frame_kind(name)](*v)
    return {"hot": _hot, "offcpu": _blue, "blue": _blue, "io": _io, "mem": _mem}.get(
        palette, _hot)(*v)


def diff_colour(delta: float, peak: float) -> str:
    """A differential frame: red for growth, blue for shrinkage, saturation by |delta| /
    peak (the largest change of any frame); white for no change."""
    if not delta or peak <= 0:
        return "rgb(250,250,250)"
    f = min(abs(delta) / peak, 1.0)
    light = int(210 * (1 - f))
    return f"rgb(255,{light},{light})" if delta > 0 else f"rgb({light},{light},255)"
