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
