"""The Link: one attachment of a program to a hook, owned by one Python object.

A Link owns what keeps the attachment alive: a BPF link fd (BPF_LINK_CREATE,
BPF_RAW_TRACEPOINT_OPEN), perf event fds, and/or an undo action (socket filters). Closing the
Link releases them all, in that order; so does garbage collection and interpreter exit. A
multi-part Link (one perf event per CPU) owns its parts and closes every one of them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Self

from pybpf.link.errors import AttachError
from pybpf.sys import FD, BPFError, LinkType, NotSupportedError, bpf_raw, error_from_errno, objects
from pybpf.sys import constants as C
from pybpf.sys.attrs import LinkDetachAttr, LinkInfo


def _release(undo: Callable[[], None] | None, fds: Sequence[FD],
             parts: Sequence[Link]) -> None:
    """Release in dependency order; keep going past errors so nothing is left behind."""
    first: BaseException | None = None
    for part in parts:
        try:
            part.close()
        except Exception as e:  # noqa: BLE001 - re-raised below
            first = first or e
    for fd in fds:
        try:
            fd.close()
        except OSError as e:
            first = first or e
    if undo is not None:  # after the fds: a tracefs probe event is busy while perf holds it
        try:
            undo()
        except Exception as e:  # noqa: BLE001
            first = first or e
    if first is not None:
        raise first


class Link:
    """An attached program. Use as a context manager, or call `close()`.

    `fd` is the BPF link fd when the kernel made one (else the perf event fd, else None);
    `id` is the kernel's link id (None without a BPF link); `parts` lists the sub-links of a
    multi-part attachment (per-CPU perf events)."""

    def __init__(
        self,
        kind: str,
        target: str,
        link_fd: FD | None = None,
        owned: Iterable[FD] = (),
        undo: Callable[[], None] | None = None,
        parts: Sequence[Link] = (),
    ) -> None:
        self.kind = kind
        self.target = target
        self._link_fd = link_fd
        self._owned = list(owned)
        self.parts: list[Link] = list(parts)
        fds = ([link_fd] if link_fd is not None else []) + self._owned
        self._finalizer = weakref.finalize(self, _release, undo, fds, self.parts)

    # --- state -------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    @property
    def fd(self) -> FD | None:
        if self._link_fd is not None:
            return self._link_fd
        if self._owned:
            return self._owned[0]
        return self.parts[0].fd if self.parts else None

    @property
    def link_fd(self) -> FD | None:
        """The BPF link fd, or None for attachments the kernel keeps without a link object."""
        if self._link_fd is None and self.parts:
            return self.parts[0].link_fd
        return self._link_fd

    def info(self) -> LinkInfo | None:
        """The kernel's struct bpf_link_info, or None when there is no BPF link."""
        lfd = self.link_fd
        if lfd is None or lfd.closed:
            return None
        return objects.link_info(lfd.fileno())

    @property
    def id(self) -> int | None:
        info = self.info()
        return info.id if info is not None else None

    @property
    def ids(self) -> list[int]:
        """The link ids of every part (one entry for a single link)."""
        if self.parts:
            return [i for p in self.parts for i in p.ids]
        i = self.id
        return [i] if i is not None else []

    @property
    def link_type(self) -> LinkType | None:
        info = self.info()
        if info is None:
            return None
        try:
            return LinkType(info.type)
        except ValueError:
            return LinkType.UNSPEC

    # --- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Detach and release everything this Link owns. Idempotent."""
        self._finalizer()

    def detach(self) -> None:
        """Detach the program from its hook but keep the fd (BPF_LINK_DETACH); the link is
        'defunct' afterwards. Links without BPF_LINK_DETACH support are closed instead."""
        if self.parts:
            for p in self.parts:
                p.detach()
            return
        lfd = self._link_fd
        if lfd is None or lfd.closed:
            self.close()
            return
        ret, err = bpf_raw(C.BPF_LINK_DETACH, LinkDetachAttr(link_fd=lfd.fileno()))
        if ret < 0:
            e = error_from_errno(err, f"detaching {self.kind} link from {self.target}")
            if isinstance(e, NotSupportedError) or err == 22:  # EINVAL: no detach op
                self.close()
                return
            raise e

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return f"<Link {self.kind} {self.target} closed>"
        if self.parts:
            return f"<Link {self.kind} {self.target} parts={len(self.parts)}>"
        try:
            ident = self.id
        except BPFError:
            ident = None
        extra = f" id={ident}" if ident is not None else f" fd={self.fd}" if self.fd else ""
        return f"<Link {self.kind} {self.target}{extra}>"


class LinkGroup(Link):
    """A Link made of several parts (e.g. one perf event per CPU)."""

    def __init__(self, kind: str, target: str, parts: Sequence[Link]) -> None:
        if not parts:
            raise AttachError(f"{kind} {target}: nothing was attached")
        super().__init__(kind, target, parts=parts)

    def __len__(self) -> int:
        return len(self.parts)


def link_ids() -> list[int]:
    """The ids of every BPF link in the kernel (BPF_LINK_GET_NEXT_ID walk)."""
    return list(objects.ids("link"))
