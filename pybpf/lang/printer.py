"""Text (and JSON) output in bpftrace's layout: printf, values, maps, hist/lhist bars, stats."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable
from typing import Any

from pybpf.lang.semantic import MapInfo
from pybpf.lang.types import LT, decode

SPEC = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+)?(?:\.(?P<prec>\d+))?"
                  r"(?P<len>hh|h|ll|l|z|j|t)?(?P<conv>r[xh]?|[diouxXcspfge%])")
BAR = 52


class Formatter:
    """Turns decoded values into bpftrace's text; knows symbol tables and names."""

    def __init__(self, names: list[str], stacks: Any = None) -> None:
        self.names = names
        self.stacks = stacks
        self.mono0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        self.wall0 = time.time_ns()

    def value(self, lt: LT, v: Any) -> str:
        k = lt.kind
        if k == "ptr":  # an int64 as bpftrace 0.17 prints it (a map key: in hex)
            return str(v - (1 << 64) if v >= 1 << 63 else v)
        if k in ("int", "none"):
            return str(v)
        if k == "str":
            return str(v)
        if k == "tuple":
            return "(" + ", ".join(self.value(i, x) for i, x in zip(lt.items, v,
                                                                     strict=True)) + ")"
        if k == "probe":
            return self.names[v] if 0 <= v < len(self.names) else str(v)
        if k == "ksym":
            return self.ksym(v, offset=False)
        if k == "usym":
            return self.usym(v[1], v[0], offset=False)
        if k == "kstack":
            frames = self.stacks.stack(v) if self.stacks is not None else []
            return "\n" + "".join(f"        {self.ksym(a)}\n" for a in frames)
        if k == "ustack":
            sid, pid = v
            frames = self.stacks.stack(sid) if self.stacks is not None else []
            return "\n" + "".join(f"        {self.usym(pid, a)}\n" for a in frames)
        if k == "inet":
            af, data = v
            if af == socket.AF_INET6:
                return socket.inet_ntop(socket.AF_INET6, data[:16])
            return socket.inet_ntop(socket.AF_INET, data[:4])
        if k == "timestamp":
            wall = (self.wall0 - self.mono0 + v) / 1e9
            return time.strftime(lt.fmt, time.localtime(wall))
        if k == "buf":
            return buf_text(v)
        if k == "strerror":
            import os

            return os.strerror(v)
        if k == "cgroup_path":
            return cgroup_paths(v)
        if k == "username":
            import pwd

            try:
                return pwd.getpwuid(v).pw_name
            except KeyError:
                return str(v)
        return str(v)

    def ksym(self, addr: int, offset: bool = True) -> str:
        from pybpf.symbols import kernel_symbols

        found = kernel_symbols().lookup(addr)
        if found is None:
            return f"0x{addr:x}"
        sym, off = found
        return f"{sym.name}+{off}" if offset else sym.name

    def usym(self, pid: int, addr: int, offset: bool = True) -> str:
        from pybpf.symbols import usym

        try:
            text = usym(pid, addr, with_offset=offset)
        except Exception:  # noqa: BLE001 - the process may be gone
            return f"0x{addr:x}"
        return text

    # -- printf -------------------------------------------------------------------------------
    def printf(self, fmt: str, args: list[tuple[LT, Any]]) -> str:
        it = iter(args)

        def conv(m: re.Match[str]) -> str:
            c = m.group("conv")
            if c == "%":
                return "%"
            lt, v = next(it)
            flags, width, prec = m.group("flags"), m.group("width") or "", m.group("prec")
            spec = "%" + flags + width + (f".{prec}" if prec is not None else "")
            if lt.kind in ("int", "ptr", "strerror") and c in "diouxXc":
                return (spec + ("s" if c == "c" else "d" if c in "iu" else c)) % \
                    c_integer(v, c, m.group("len") or "")
            if c == "p":
                return (spec + "s") % f"0x{v:x}" if isinstance(v, int) else str(v)
            if c in "fge" and isinstance(v, int):
                return (spec + c) % v
            if c[0] == "r":  # %rx: every byte as \xNN, %rh: bytes in hex apart
                data = v if isinstance(v, bytes) else str(v).encode()
                return (spec + "s") % (buf_text(data) if c == "r" else
                                       "".join(f"\\x{b:02x}" for b in data) if c == "rx" else
                                       " ".join(f"{b:02x}" for b in data))
            text = self.value(lt, v)
            return (spec + "s") % text

        return SPEC.sub(conv, fmt)


def cgroup_mounts(mountinfo: str = "/proc/self/mountinfo") -> list[tuple[str, str]]:
    """(name, mount point) of every mounted cgroup hierarchy, as bpftrace names them: the
    v2 one "unified" first, then the v1 ones by name."""
    v2, v1 = [], []
    try:
        with open(mountinfo) as f:
            for line in f:
                fields = line.split()
                if " - " not in line:
                    continue
                fstype = line.split(" - ", 1)[1].split()[0]
                if fstype == "cgroup2":
                    v2.append(("unified", fields[4]))
                elif fstype == "cgroup":
                    v1.append((os.path.basename(fields[4]), fields[4]))
    except OSError:
        return []
    return v2 + sorted(v1)


def cgroup_paths(cid: int, mounts: list[tuple[str, str]] | None = None) -> str:
    """bpftrace's cgroup_path(): "name:/path" for each hierarchy with a cgroup of this id
    (the inode number of its directory), joined by ","."""
    from pybpf.link.cgroup import cgroup_by_id

    out = []
    for name, root in mounts if mounts is not None else cgroup_mounts():
        path = cgroup_by_id(root, cid)
        if path is not None:
            out.append(f"{name}:{path}")
    return ",".join(out)


def c_integer(v: int, conv: str, length: str) -> int | str:
    """What C's printf shows for a 64-bit argument: the length modifier picks the width the
    value is cut to (no modifier: int), the conversion picks signed or unsigned (bpftrace
    hands its arguments to printf(3), so `%d` of (uint64)3 - (uint64)5 shows -2)."""
    bits = {"hh": 8, "h": 16, "": 32}.get(length, 64)
    v &= (1 << bits) - 1
    if conv == "c":
        return chr(v & 0xFF)
    if conv in "di" and v >> (bits - 1):
        v -= 1 << bits
    return v


def buf_text(data: bytes) -> str:
    """bpftrace's text of a buf(): printable ASCII as it is, every other byte as \\xNN."""
    return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in data)


# ------------------------------------------------------------------------------------------
def _label(power: int) -> str:
    suffix = ""
    for p, s in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if power >= p:
            power -= p
            suffix = s
            break
    return f"{1 << power}{suffix}"


def _lin_label(n: int) -> str:
    if n == 0:
        return "0"
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)}M"
    if n % 1024 == 0:
        return f"{n // 1024}K"
    return str(n)


def _line(header: str, count: int, max_value: int) -> str:
    width = int(count / max_value * BAR) if max_value else 0
    return f"{header:<16}{count:>8} |{'@' * width:<{BAR}}|\n"


def hist_text(buckets: dict[int, int], div: int = 1) -> str:
    nz = [i for i, c in buckets.items() if c > 0]
    if not nz:
        return ""
    lo, hi = min(nz), max(nz)
    top = max(buckets.values())
    out = []
    for i in range(lo, hi + 1):
        if i == 0:
            header = "(..., 0)"
        elif i == 1:
            header = "[0]"
        elif i == 2:
            header = "[1]"
        else:
            header = f"[{_label(i - 2)}, {_label(i - 1)})"
        out.append(_line(header, buckets.get(i, 0) // div, top // div or 1))
    return "".join(out)


def lhist_text(buckets: dict[int, int], bounds: tuple[int, int, int]) -> str:
    lo_v, hi_v, step = bounds
    n = (hi_v - lo_v) // step + 2
    nz = [i for i, c in buckets.items() if c > 0]
    if not nz:
        return ""
    top = max(buckets.values())
    out = []
    for i in range(min(nz), max(nz) + 1):
        if i == 0:
            header = f"(..., {_lin_label(lo_v)})"
        elif i == n - 1:
            header = f"[{_lin_label(hi_v)}, ...)"
        else:
            header = f"[{_lin_label((i - 1) * step + lo_v)}, {_lin_label(i * step + lo_v)})"
        out.append(_line(header, buckets.get(i, 0), top))
    return "".join(out)


def _key_sort(k: Any) -> Any:
    if isinstance(k, tuple):
        return tuple(_key_sort(x) for x in k)
    return (0, k, "") if isinstance(k, int) else (1, 0, str(k))


def _avg(total: int, count: int) -> int:
    if not count:
        return 0
    q = abs(total) // count
    return q if total >= 0 else -q


class MapPrinter:
    def __init__(self, fmt: Formatter, write: Callable[[str], None], as_json: bool = False) -> None:
        self.fmt, self.write, self.json = fmt, write, as_json
        # maps clear() emptied: a keyless one of plain values then prints nothing, as in
        # bpftrace (whose count(), sum(), min() and max() maps still show 0)
        self.cleared: set[str] = set()

    def entries(self, info: MapInfo) -> list[tuple[Any, Any]]:
        obj = info.ref.obj if info.ref is not None else None
        if obj is None:
            return []
        key_lt, val_lt = info.key_lt, info.value_lt
        out = []
        for kraw, vraw in obj.raw_items():
            out.append((decode(key_lt, kraw), decode(val_lt, vraw)))
        return out

    def key_text(self, info: MapInfo, key: Any) -> str:
        keys = info.keys or ()
        if not keys:
            return ""
        parts = key if len(keys) > 1 else (key,)
        return "[" + ", ".join(f"0x{v:x}" if lt.kind == "ptr" else self.fmt.value(lt, v)
                               for lt, v in zip(keys, parts, strict=True)) + "]"

    def print_map(self, info: MapInfo, top: int = 0, div: int = 1) -> None:
        rows = self.entries(info)
        name = info.display
        if not rows:
            if not info.keys and info.kind in ("count", "sum", "min", "max", "value") \
                    and info.value_lt.is_int and \
                    not (info.kind == "value" and info.name in self.cleared):
                rows = [(0, 0)]  # bpftrace shows a keyless map that never fired as 0
            elif not self.json:
                self.write("\n")
                return
            else:
                return
        if info.kind in ("hist", "lhist"):
            groups: dict[Any, dict[int, int]] = {}
            for key, count in rows:
                user = key[:-1]
                user = user[0] if len(user) == 1 else user
                groups.setdefault(user, {})[key[-1]] = count
            order = sorted(groups, key=_key_sort)
            order.sort(key=lambda k: sum(groups[k].values()))
            if top:
                order = order[-top:]
            if self.json:
                self._json_hist(info, order, groups)
                return
            for k in order:
                kt = self.key_text(info, k) if info.keys else ""
                body = hist_text(groups[k], div) if info.kind == "hist" else \
                    lhist_text(groups[k], info.lhist or (0, 1, 1))
                self.write(f"{name}{kt}: \n{body}\n")
            return
        rows.sort(key=lambda r: _key_sort(r[0]))
        if info.kind in ("avg", "stats"):
            rows.sort(key=lambda r: _avg(r[1][1], r[1][0]))
        elif info.value_lt.is_int:
            rows.sort(key=lambda r: r[1])
        if top:
            rows = rows[-top:]
        if self.json:
            self._json_map(info, rows, div)
            return
        for key, v in rows:
            kt = self.key_text(info, key)
            if info.kind == "avg":
                text = str(_avg(v[1], v[0]) // div)
            elif info.kind == "stats":
                text = f"count {v[0]}, average {_avg(v[1], v[0]) // div}, total {v[1] // div}"
            elif info.value_lt.kind == "ptr":
                text = self.fmt.value(info.value_lt, v)
            elif info.value_lt.is_int:
                text = str(v // div)
            else:
                text = self.fmt.value(info.value_lt, v)
            self.write(f"{name}{kt}: {text}\n")
        if info.kind in ("avg", "stats"):
            self.write("\n")

    # -- JSON ------------------------------------------------------------------------------------
    def _jkey(self, info: MapInfo, key: Any) -> str:
        keys = info.keys or ()
        parts = key if len(keys) > 1 else (key,)
        return ",".join(self.fmt.value(lt, v) for lt, v in zip(keys, parts, strict=True))

    def _json_map(self, info: MapInfo, rows: list[tuple[Any, Any]], div: int) -> None:
        def val(v: Any) -> Any:
            if info.kind == "stats":
                return {"count": v[0], "average": _avg(v[1], v[0]), "total": v[1]}
            if info.kind == "avg":
                return _avg(v[1], v[0])
            if info.value_lt.is_int:
                return v // div
            return self.fmt.value(info.value_lt, v)

        kind = "stats" if info.kind == "stats" else "map"
        if not info.keys:
            data: Any = val(rows[0][1])
        else:
            data = {self._jkey(info, k): val(v) for k, v in rows}
        self.write(json.dumps({"type": kind, "data": {info.display: data}}) + "\n")

    def _json_hist(self, info: MapInfo, order: list[Any], groups: dict[Any, dict[int, int]]) -> None:
        def buckets(b: dict[int, int]) -> list[dict[str, int]]:
            out = []
            for i in sorted(b):
                if info.kind == "hist":
                    lo = -(1 << 63) if i == 0 else (0 if i == 1 else 1 << (i - 2))
                    hi = -1 if i == 0 else (0 if i == 1 else (1 << (i - 1)) - 1)
                else:
                    lo_v, _, step = info.lhist or (0, 1, 1)
                    lo = lo_v + (i - 1) * step
                    hi = lo + step - 1
                out.append({"min": lo, "max": hi, "count": b[i]})
            return out

        if not info.keys:
            data: Any = buckets(groups[order[0]])
        else:
            data = {self._jkey(info, k): buckets(groups[k]) for k in order}
        self.write(json.dumps({"type": "hist", "data": {info.display: data}}) + "\n")
