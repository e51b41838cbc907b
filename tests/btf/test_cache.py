"""The on-disk index cache: written once, reused, rejected when stale or corrupt, optional."""

from __future__ import annotations

import os

import pytest

from pybpf.btf import BTF, cache
from tests.btf.test_synthetic import build_all_kinds

VMLINUX = "/sys/kernel/btf/vmlinux"


@pytest.fixture
def blob_file(tmp_path):
    btf, _ = build_all_kinds()
    path = tmp_path / "blob.btf"
    path.write_bytes(btf._data)
    return str(path)


def cache_files(folder) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_written_then_used(cache_dir, blob_file, monkeypatch):
    first = BTF.load(blob_file)
    files = cache_files(cache_dir)
    assert len(files) == 1 and files[0].endswith(".idx") and not any(f.endswith(".tmp") for f in files)
    calls = []
    import pybpf.btf.btf as btfmod

    monkeypatch.setattr(btfmod, "scan", lambda *a: calls.append(a) or pytest.fail("scanned"))
    second = BTF.load(blob_file)
    assert not calls
    assert second.struct("hdr").size == first.struct("hdr").size == 32
    assert second._index.names == first._index.names


def test_stale_entry_is_rebuilt(cache_dir, blob_file):
    BTF.load(blob_file)
    from pybpf.btf.writer import BTFBuilder

    other = BTFBuilder()
    other.add_struct("changed", 4, [])
    with open(blob_file, "wb") as f:
        f.write(other.encode())
    assert BTF.load(blob_file).struct("changed").size == 4


def test_corrupt_entry_is_ignored(cache_dir, blob_file):
    BTF.load(blob_file)
    (entry,) = cache_files(cache_dir)
    path = os.path.join(cache_dir, entry)
    data = bytearray(open(path, "rb").read())
    data[-8:] = b"\xff" * 8
    open(path, "wb").write(bytes(data))
    assert BTF.load(blob_file).struct("hdr").member("tos").offset == 1
    open(path, "wb").write(b"garbage")
    assert BTF.load(blob_file).struct("hdr").size == 32


def test_unwritable_cache_dir(tmp_path, monkeypatch, blob_file):
    target = tmp_path / "not-a-dir"
    target.write_text("a file where the folder should be")
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(target / "sub"))
    assert BTF.load(blob_file).struct("hdr").size == 32
    monkeypatch.setenv("PYBPF_CACHE_DIR", "/proc/no-such-place")
    assert BTF.load(blob_file).struct("hdr").size == 32


def test_cache_off(monkeypatch, tmp_path, blob_file):
    monkeypatch.setenv("PYBPF_CACHE_DIR", "off")
    assert cache.cache_dir() is None
    assert BTF.load(blob_file).struct("hdr").size == 32
    monkeypatch.delenv("PYBPF_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == str(tmp_path / "pybpf")


@pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no kernel BTF")
def test_vmlinux_warm_equals_cold(cache_dir):
    cold = BTF.load(VMLINUX)
    warm = BTF.load(VMLINUX)
    assert cold._index.offsets == warm._index.offsets
    assert warm.struct("task_struct").size == cold.struct("task_struct").size


def test_load_errors(tmp_path):
    from pybpf.btf import BTFError

    with pytest.raises(BTFError, match="cannot open"):
        BTF.load(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(BTFError, match="truncated"):
        BTF.load(str(empty))
