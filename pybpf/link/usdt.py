"""attach.usdt: a 'kprobe'-type program at a USDT probe — a uprobe at each of the probe's
sites (`pybpf.usdt`), in every process that runs the file or in one process.

Semaphores: a probe site guarded by one gets the uprobe's `ref_ctr_offset`, so the kernel
raises the counter in every process mapping the file while the probe is attached (and in
those started later). A kernel without that (before 4.20) gets the counter raised through
/proc/PID/mem, which needs a pid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pybpf.link.errors import AttachError
from pybpf.link.link import Link, LinkGroup
from pybpf.link.uprobe import uprobe
from pybpf.sys import NotSupportedError
from pybpf.usdt import (
    ProcessSemaphore,
    UsdtError,
    UsdtProbe,
    find,
    kernel_counts_semaphores,
)


def resolve(path: str, provider: str, name: str, pid: int = -1) -> list[UsdtProbe]:
    """The sites of probe `provider:name` ("" provider: any one) in `path`; a bare library
    name is looked for in process `pid`'s mappings first. AttachError when there are none."""
    binary = path
    if pid > 0 and "/" not in path:
        binary = _mapped_library(pid, path) or path
    try:
        return find(binary, name, provider)
    except UsdtError as e:
        raise AttachError(str(e)) from None


def _mapped_library(pid: int, name: str) -> str | None:
    """The file of process `pid` whose base name starts with `name` or lib`name`."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            paths = [p[5].strip() for p in (line.split(None, 5) for line in f) if len(p) == 6]
    except OSError:
        return None
    base = name if name.startswith("lib") else f"lib{name}"
    for p in dict.fromkeys(paths):
        leaf = p.rsplit("/", 1)[-1]
        if p.startswith("/") and (leaf == name or leaf.startswith((base + ".", base + "-",
                                                                   name + "."))):
            return p
    return None


def attach_site(prog: Any, site: UsdtProbe, pid: int = -1, cookie: int = 0) -> Link:
    """A uprobe at one probe site, with its semaphore raised while attached."""
    if not site.semaphore_offset:
        return uprobe(prog, site.path, site.file_offset, pid=pid, cookie=cookie)
    if kernel_counts_semaphores():
        return uprobe(prog, site.path, site.file_offset, pid=pid,
                      ref_ctr_offset=site.semaphore_offset, cookie=cookie)
    if pid <= 0:
        raise NotSupportedError(
            f"{site.full_name} is guarded by a semaphore, and this kernel's uprobes cannot "
            "raise it (no ref_ctr_offset, Linux 4.20+): attach with a pid, whose semaphore "
            "is then raised through /proc/PID/mem")
    link = uprobe(prog, site.path, site.file_offset, pid=pid, cookie=cookie)
    try:
        sem = ProcessSemaphore(pid, site.path, site.semaphore_offset)
    except UsdtError as e:
        link.close()
        raise AttachError(str(e)) from None
    return Link("usdt", site.full_name, parts=[link], undo=sem.close)


def usdt(prog: Any, path: str, provider: str, name: str, pid: int = -1,
         sites: Sequence[UsdtProbe] | None = None, cookie: int = 0) -> Link:
    """Attach `prog` (type 'kprobe') at every site of USDT probe `provider:name` of `path`
    (a binary or shared library; `provider` "" for any), in every process (pid=-1) or in
    process `pid`. `sites` attaches at those sites only (see `resolve`)."""
    found = list(sites) if sites is not None else resolve(path, provider, name, pid)
    links: list[Link] = []
    try:
        for site in found:
            links.append(attach_site(prog, site, pid, cookie))
    except BaseException:
        for link in links:
            link.close()
        raise
    first = found[0]
    return LinkGroup("usdt", f"{first.path}:{first.provider}:{first.name}", links)


__all__ = ["attach_site", "resolve", "usdt"]
