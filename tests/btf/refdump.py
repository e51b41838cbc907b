"""Reference decoding of BTF by ``bpftool btf dump ... format raw`` (an independent parser)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

_HEAD = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")
_KV = re.compile(r"(\w+)=([^\s,]+)")
_ITEM_NAME = re.compile(r"^\t'([^']*)'(.*)$")


@dataclass
class RefType:
    id: int
    kind: str
    name: str
    attrs: dict[str, str]
    items: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def have_bpftool() -> bool:
    return shutil.which("bpftool") is not None


def dump(path: str, base: str | None = None) -> dict[int, RefType]:
    cmd = ["bpftool", "btf", "dump", "file", path, "format", "raw"]
    if base:
        cmd[1:1] = ["-B", base]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    types: dict[int, RefType] = {}
    cur: RefType | None = None
    for line in out.splitlines():
        m = _HEAD.match(line)
        if m:
            name = "" if m.group(3) == "(anon)" else m.group(3)
            cur = RefType(int(m.group(1)), m.group(2), name, dict(_KV.findall(m.group(4))))
            types[cur.id] = cur
        elif line.startswith("\t") and cur is not None:
            im = _ITEM_NAME.match(line)
            if im:
                cur.items.append(("" if im.group(1) == "(anon)" else im.group(1), dict(_KV.findall(im.group(2)))))
            else:
                cur.items.append(("", dict(_KV.findall(line))))
    return types


def num(text: str) -> int:
    """An integer as bpftool prints it (``-1``, ``1ULL``, ``0x10``)."""
    return int(text.rstrip("ULul"), 0)
