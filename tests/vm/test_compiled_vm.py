"""Compiled kprobe/kretprobe/fentry/fexit programs on a kernel that has them (Debian 12's 6.1
in the VM); on this project's 6.18 they must say clearly that the kernel lacks them.

    ../shared/vm/run-in-vm --rw "$PWD" -- python3 -m pytest tests/vm -q
"""

from __future__ import annotations

import errno
import os
import tempfile

import pytest

from pybpf import NotSupportedError
from pybpf.link import kprobes_available
from tests.util import requires_root

pytestmark = requires_root


@pytest.fixture(scope="module")
def progs():
    from tests.vm import progs_kernel

    yield progs_kernel
    for p in (progs_kernel.kprobe_open, progs_kernel.kretprobe_open, progs_kernel.fentry_open,
              progs_kernel.fexit_open):
        p.close(maps=True)
    progs_kernel.opens.close()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory() as d:
        yield d


def _open_files(d: str, n_ok: int, n_missing: int, n_create: int) -> None:
    """Exactly n_ok + n_missing + n_create openat calls of this process (and no other file
    activity: the directory is made before and removed after)."""
    path, missing = os.path.join(d, "f"), os.path.join(d, "missing")
    for _ in range(n_create):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for _ in range(n_ok):
        os.close(os.open(path, os.O_RDONLY))
    for _ in range(n_missing):
        try:
            os.open(missing, os.O_RDONLY)
        except OSError as e:
            assert e.errno == errno.ENOENT


def _count(progs, kind: int) -> int:
    return progs.opens.get((os.getpid(), kind), 0)


@pytest.mark.usefixtures("no_leaks")
def test_kprobe_arguments_typed_from_btf(progs, workdir):
    if not kprobes_available():
        with pytest.raises(NotSupportedError, match="kprobes are not available"):
            progs.kprobe_open.attach()
        return
    with progs.kretprobe_open.attach(), progs.kprobe_open.attach():
        progs.opens.clear()  # attaching opened sysfs files: count from here
        _open_files(workdir, n_ok=5, n_missing=3, n_create=2)
        counts = [_count(progs, k) for k in (1, 2, 3)]
    assert counts == [10, 2, 3]


@pytest.mark.usefixtures("no_leaks")
def test_fentry_fexit_direct_reads(progs, workdir):
    try:
        attachment = progs.fentry_open.attach()
    except NotSupportedError as e:
        assert "fentry" in str(e) or "trampoline" in str(e)
        return
    with attachment, progs.fexit_open.attach():
        progs.opens.clear()
        _open_files(workdir, n_ok=4, n_missing=2, n_create=1)
        counts = [_count(progs, k) for k in (4, 5, 6)]
    assert counts == [7, 1, 2]
