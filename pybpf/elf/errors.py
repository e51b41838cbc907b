"""Errors of the ELF loader: each names the object file and, where there is one, the section."""

from __future__ import annotations

from pybpf.sys import BPFError


class ElfError(BPFError):
    """A `.bpf.o` object that cannot be opened, relocated, loaded or attached. The message
    starts with the file (and section) it is about."""

    def __init__(self, path: str, message: str, section: str | None = None,
                 errno: int = 0) -> None:
        where = f"{path}: section '{section}'" if section else path
        super().__init__(f"{where}: {message}", errno)
        self.path = path
        self.section = section


class TargetNeededError(ElfError):
    """The program's section does not say where to attach it, and no target was given."""
