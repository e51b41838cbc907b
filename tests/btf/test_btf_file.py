"""The BTF file that ``PYBPF_BTF`` names (or any file given to ``BTF.load``): missing,
damaged, not a regular file or far too large, it is refused with a BTFError whose message is
one line naming the file, before anything blocks or fills memory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pybpf.btf.kernel as kernel
from pybpf.btf import BTF, BTFError, BTFFileError
from pybpf.btf.btf import MAX_FILE_SIZE
from tests.btf.test_synthetic import build_all_kinds

VMLINUX = "/sys/kernel/btf/vmlinux"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def fresh_kernel_btf(monkeypatch, cache_dir):
    """kernel_btf() as in a new process (it loads once per process): the real one is put
    back afterwards by monkeypatch."""
    monkeypatch.setattr(kernel, "_vmlinux", None)

    def load(path: str):
        monkeypatch.setenv("PYBPF_BTF", path)
        kernel._vmlinux = None
        return kernel.kernel_btf()

    return load


def real_btf() -> bytes:
    if os.path.exists(VMLINUX):
        with open(VMLINUX, "rb") as f:
            return f.read()
    return build_all_kinds()[0]._data


def refused(load, path: str, reason: str) -> BTFFileError:
    with pytest.raises(BTFError) as info:
        load(path)
    e = info.value
    assert isinstance(e, BTFFileError), repr(e)
    text = str(e)
    assert "\n" not in text and text.startswith(f"{path} (PYBPF_BTF): "), text
    assert reason in e.reason, text
    return e


DAMAGED = {
    "empty": lambda d: b"",
    "truncated": lambda d: d[: len(d) // 2],
    "header-only": lambda d: d[:24],
    "bad-magic": lambda d: b"\0\0" + d[2:],
    "big-endian": lambda d: b"\xeb\x9f" + d[2:],
    "garbage": lambda d: b"this is not BTF at all\n" * 100,
    "type-section-past-end": lambda d: d[:12] + (1 << 30).to_bytes(4, "little") + d[16:],
}


@pytest.mark.parametrize("damage", DAMAGED, ids=list(DAMAGED))
def test_damaged_file(tmp_path, fresh_kernel_btf, damage):
    path = tmp_path / "vmlinux.btf"
    path.write_bytes(DAMAGED[damage](real_btf()))
    refused(fresh_kernel_btf, str(path), "not valid BTF: ")


def test_missing_file(tmp_path, fresh_kernel_btf):
    e = refused(fresh_kernel_btf, str(tmp_path / "nothing"), "cannot open it")
    assert "No such file" in e.reason


def test_directory(tmp_path, fresh_kernel_btf):
    refused(fresh_kernel_btf, str(tmp_path), "is a directory, not a regular file")


def test_character_device(fresh_kernel_btf):
    refused(fresh_kernel_btf, "/dev/null", "is a character device, not a regular file")


def test_fifo_does_not_block(tmp_path, fresh_kernel_btf, fed_fifo):
    fifo = tmp_path / "fifo"
    fed_fifo(fifo)  # were it read, it would give garbage, not block the test
    refused(fresh_kernel_btf, str(fifo), "is a FIFO, not a regular file")


def test_fifo_swapped_in_after_the_check(tmp_path, monkeypatch, fed_fifo):
    """The name checked with stat, then replaced by a FIFO before the open: opened without
    blocking (O_NONBLOCK) and refused after fstat."""
    fifo = tmp_path / "fifo"
    fed_fifo(fifo)
    regular = tmp_path / "regular"
    regular.write_bytes(real_btf())
    real_stat = os.stat

    def stat_before_the_swap(path, *args, **kw):
        return real_stat(regular if os.fspath(path) == str(fifo) else path, *args, **kw)

    monkeypatch.setattr(os, "stat", stat_before_the_swap)
    with pytest.raises(BTFFileError, match=r"fifo: is a FIFO, not a regular file$"):
        BTF.load(str(fifo), use_cache=False)


def test_too_large(tmp_path, fresh_kernel_btf):
    path = tmp_path / "huge.btf"
    with open(path, "wb") as f:  # sparse: large on paper only
        f.write(real_btf()[:4096])
        f.truncate(MAX_FILE_SIZE + 1)
    refused(fresh_kernel_btf, str(path), "too large for BTF (the limit is 256 MiB")


def test_dev_zero_is_not_read(tmp_path):
    """/dev/zero used to be read until memory ran out: in a child with a 1 GiB address-space
    limit, so that a regression fails (MemoryError) instead of exhausting the machine."""
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from pybpf.btf import BTFFileError, kernel_btf\n"
        "try:\n    kernel_btf()\nexcept BTFFileError as e:\n    print(e)\n"
    )
    env = dict(os.environ, PYBPF_BTF="/dev/zero", PYBPF_CACHE_DIR="off")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0 and not res.stderr, res.stderr[-2000:]
    assert res.stdout == "/dev/zero (PYBPF_BTF): is a character device, not a regular file\n"


def test_generated_file_is_read_with_a_bound(tmp_path):
    """A file whose size stat does not know (procfs) is read, not mapped: not BTF here."""
    with pytest.raises(BTFFileError, match=r"^/proc/self/status: not valid BTF: not BTF data"):
        BTF.load("/proc/self/status", use_cache=False)


def test_missing_default_names_config(monkeypatch, tmp_path):
    monkeypatch.setattr(kernel, "_vmlinux", None)
    monkeypatch.setattr(kernel, "VMLINUX", str(tmp_path / "vmlinux"))
    monkeypatch.delenv("PYBPF_BTF", raising=False)
    with pytest.raises(BTFFileError, match=r"vmlinux: does not exist: .*CONFIG_DEBUG_INFO_BTF"):
        kernel.kernel_btf()


def test_direct_load_messages_name_the_file(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"\0" * 64)
    with pytest.raises(BTFFileError, match=rf"^{path}: not valid BTF: not BTF data: bad magic"):
        BTF.load(str(path))


@pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no kernel BTF")
def test_real_file_via_environment(tmp_path, fresh_kernel_btf):
    copy = tmp_path / "vmlinux.btf"
    copy.write_bytes(real_btf())
    for path in (VMLINUX, str(copy)):
        btf = fresh_kernel_btf(path)
        assert btf.member("task_struct", "real_parent.tgid").size == 4
