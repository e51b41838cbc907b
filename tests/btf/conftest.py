"""Fixtures for the BTF tests: the kernel's BTF, bpftool's reference dump, a private cache."""

from __future__ import annotations

import os

import pytest

from tests.btf import refdump

VMLINUX = "/sys/kernel/btf/vmlinux"


@pytest.fixture(scope="session")
def kbtf():
    if not os.path.exists(VMLINUX):
        pytest.skip("kernel has no BTF at /sys/kernel/btf/vmlinux")
    from pybpf.btf import kernel_btf

    return kernel_btf()


@pytest.fixture(scope="session")
def ref():
    """bpftool's decoding of vmlinux, by type id."""
    if not os.path.exists(VMLINUX):
        pytest.skip("kernel has no BTF")
    if not refdump.have_bpftool():
        pytest.skip("bpftool is not installed (apt-get install bpftool)")
    return refdump.dump(VMLINUX)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(folder))
    return folder


def is_root() -> bool:
    return os.geteuid() == 0


class FedFifo:
    """A FIFO at ``path`` whose writer (a thread) sends ``data`` once a reader opens it.

    So code that (wrongly) opens and reads it gets ``data`` and end-of-file instead of
    blocking the test forever; code that (rightly) refuses it never wakes the writer, and
    the fixture's teardown does, so the thread always ends. The writer and the teardown open
    the FIFO itself (through an O_PATH descriptor), not the name: code under test may replace
    the name with a file, which the writer must not write to.
    """

    def __init__(self, path: str, data: bytes) -> None:
        import threading

        self.path = path
        os.mkfifo(path)
        self._ref = os.open(path, os.O_PATH | os.O_CLOEXEC)  # neither a reader nor a writer
        self._data = data
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()

    @property
    def _fifo(self) -> str:
        return f"/proc/self/fd/{self._ref}"

    def _feed(self) -> None:
        try:
            with open(self._fifo, "wb") as f:  # blocks until a reader opens the FIFO
                f.write(self._data)
        except OSError:  # the reader went away first (EPIPE): nothing to do
            pass

    def release(self) -> None:
        fd = os.open(self._fifo, os.O_RDONLY | os.O_NONBLOCK)  # wakes the writer if waiting
        try:
            self._thread.join()
        finally:
            os.close(fd)
            os.close(self._ref)


@pytest.fixture
def fed_fifo():
    made: list[FedFifo] = []

    def make(path, data: bytes = b"not BTF, fed through a FIFO") -> FedFifo:
        fifo = FedFifo(str(path), data)
        made.append(fifo)
        return fifo

    yield make
    for fifo in made:
        fifo.release()
