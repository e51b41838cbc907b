"""One program of an object: its function, section and, once loaded, the kernel program."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybpf.elf.sections import ProgSection

if TYPE_CHECKING:
    from pybpf.elf.linker import Linked
    from pybpf.link.link import Link
    from pybpf.program import Program


class ObjectProgram:
    """A program of a `.bpf.o` object. `autoload = False` before `Object.load()` skips it.
    After load, `.program` is the `pybpf.program.Program` (also `.fd`, `.test_run()`)."""

    def __init__(self, name: str, section: ProgSection, shndx: int, start: int,
                 count: int) -> None:
        self.name = name
        self.section = section
        self.shndx = shndx
        self.start, self.count = start, count
        self.autoload = True
        self.program: Program | None = None
        self.linked: Linked | None = None
        self.links: list[Link] = []
        self.skipped: str | None = None  # why it was not loaded or attached

    @property
    def section_name(self) -> str:
        return self.section.name

    @property
    def prog_type(self) -> Any:
        return self.section.prog_type

    @property
    def loaded(self) -> bool:
        return self.program is not None and not self.program.closed

    @property
    def fd(self) -> Any:
        if self.program is None:
            raise RuntimeError(f"program '{self.name}' is not loaded: call Object.load()")
        return self.program.fd

    def test_run(self, *args: Any, **kwargs: Any) -> Any:
        if self.program is None:
            raise RuntimeError(f"program '{self.name}' is not loaded: call Object.load()")
        return self.program.test_run(*args, **kwargs)

    def close(self) -> None:
        for lk in self.links:
            lk.close()
        self.links.clear()
        if self.program is not None:
            self.program.close()

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else (f"skipped: {self.skipped}" if self.skipped
                                              else "not loaded")
        return f"<ObjectProgram {self.name!r} section={self.section.name!r} {state}>"
