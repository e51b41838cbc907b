"""The index cache under hostile or damaged conditions: another user's folder, planted
symlinks, predictable names, swapped or flipped bytes, odd files where an entry should be.

Every case must give the right types (the cache steps aside or is rebuilt), never an
exception, and must never write through a symlink or into a folder that is not private.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib

import pytest

import pybpf.btf.btf as btfmod
from pybpf.btf import BTF, cache
from pybpf.btf.writer import BTFBuilder
from tests.btf.conftest import is_root

NOBODY = 65534
HEAD = struct.Struct("<8sIII")  # magic, version, key length, count: the same in every version


def many_structs(n: int) -> bytes:
    """BTF with ``n`` member-less structs ``s0``..``s{n-1}`` (type ids 1..n)."""
    b = BTFBuilder()
    for i in range(n):
        b.add_struct(f"s{i}", 4, [])
    return b.encode()


@pytest.fixture
def blob_file(tmp_path) -> str:
    path = tmp_path / "many.btf"
    path.write_bytes(many_structs(1000))
    return str(path)


def entry_name(path: str) -> str:
    """The entry's file name, computed as the cache does (it has not changed)."""
    tag = zlib.crc32(os.path.abspath(path).encode())
    return f"btf-{os.path.basename(path)}-{tag:08x}.idx"


@pytest.fixture
def scans(monkeypatch) -> list[int]:
    """Counts the index scans: a load that used the cache does none."""
    calls: list[int] = []
    real = btfmod.scan

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(btfmod, "scan", counting)
    return calls


def assert_right(btf: BTF, names=("s0", "s1", "s2", "s500", "s999")) -> None:
    for name in names:
        assert btf.struct(name).name == name
        assert btf.struct(name).id == int(name[1:]) + 1


def assert_cached(blob_file: str, scans: list[int]) -> None:
    """The entry is (again) good: a load uses it without scanning."""
    before = len(scans)
    assert_right(BTF.load(blob_file))
    assert len(scans) == before


# ----------------------------------------------------------------- the folder
def test_made_folder_and_entry_are_private(cache_dir, blob_file):
    BTF.load(blob_file)
    assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
    (entry,) = os.listdir(cache_dir)
    assert stat.S_IMODE(os.stat(cache_dir / entry).st_mode) & 0o077 == 0


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o722], ids=oct)
def test_folder_writable_by_others_is_not_used(cache_dir, blob_file, scans, mode):
    os.mkdir(cache_dir)
    os.chmod(cache_dir, mode)
    for _ in range(2):
        assert_right(BTF.load(blob_file))
    assert os.listdir(cache_dir) == [] and len(scans) == 2


def test_entry_in_a_folder_writable_by_others_is_not_read(cache_dir, blob_file, scans):
    BTF.load(blob_file)  # a good entry, made while the folder was private
    os.chmod(cache_dir, 0o777)
    assert_right(BTF.load(blob_file))
    assert len(scans) == 2


def test_symlinked_folder_is_not_used(tmp_path, monkeypatch, blob_file, scans):
    real = tmp_path / "real"
    os.mkdir(real, 0o700)
    os.symlink(real, tmp_path / "link")
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(tmp_path / "link"))
    BTF.load(blob_file)
    assert os.listdir(real) == []


@pytest.mark.skipif(not is_root(), reason="needs root to give a folder to another user")
def test_folder_of_another_user_is_not_used(cache_dir, blob_file, scans):
    BTF.load(blob_file)  # a good entry
    os.chown(cache_dir, NOBODY, NOBODY)
    (entry,) = os.listdir(cache_dir)
    os.unlink(cache_dir / entry)
    for _ in range(2):
        assert_right(BTF.load(blob_file))
    assert os.listdir(cache_dir) == [] and len(scans) == 3


@pytest.mark.skipif(not is_root(), reason="needs root: the case is root keeping a user's setting")
def test_sudo_keeping_a_users_xdg_cache_home(tmp_path, monkeypatch, blob_file):
    """`sudo -E`: root with XDG_CACHE_HOME of a user who planted symlinks at the names the
    cache used to write (the fixed temporary name, the entry): no root file is written."""
    home = tmp_path / "alice-cache"
    folder = home / "pybpf"
    os.makedirs(folder)
    for d in (home, folder):
        os.chown(d, NOBODY, NOBODY)
        os.chmod(d, 0o755)
    victim = tmp_path / "root-owned"
    victim.write_bytes(b"root's data")
    target = folder / entry_name(blob_file)
    for name in (target, f"{target}.{os.getpid()}.tmp"):
        os.symlink(victim, name)
        os.lchown(name, NOBODY, NOBODY)
    monkeypatch.delenv("PYBPF_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    assert_right(BTF.load(blob_file))
    assert victim.read_bytes() == b"root's data"
    assert sorted(os.listdir(folder)) == sorted([target.name, f"{target.name}.{os.getpid()}.tmp"])
    # And where the user's folder has no pybpf folder yet, root does not make one in it.
    other = tmp_path / "bob-cache"
    os.mkdir(other)
    os.chown(other, NOBODY, NOBODY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(other))
    assert_right(BTF.load(blob_file))
    assert os.listdir(other) == []


# ----------------------------------------------------------------- writing
def test_planted_symlinks_are_not_followed(tmp_path, cache_dir, blob_file, scans):
    """In our own folder too: the entry and the old fixed temporary name as symlinks."""
    os.mkdir(cache_dir, 0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    target = cache_dir / entry_name(blob_file)
    os.symlink(victim, target)
    os.symlink(victim, f"{target}.{os.getpid()}.tmp")
    assert_right(BTF.load(blob_file))
    assert victim.read_bytes() == b"precious"
    assert stat.S_ISREG(os.lstat(target).st_mode)  # the link was replaced, not written through
    assert_cached(blob_file, scans)


def test_symlinked_entry_is_not_read(tmp_path, monkeypatch, cache_dir, blob_file, scans):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(elsewhere))
    BTF.load(blob_file)  # a good entry, in another folder
    monkeypatch.setenv("PYBPF_CACHE_DIR", str(cache_dir))
    os.mkdir(cache_dir, 0o700)
    os.symlink(elsewhere / entry_name(blob_file), cache_dir / entry_name(blob_file))
    assert_right(BTF.load(blob_file))
    assert len(scans) == 2


def test_temporary_names_are_random(cache_dir, blob_file, monkeypatch):
    seen: list[str] = []
    real = os.replace

    def spy(src, dst, **kw):
        seen.append(os.path.basename(src))
        return real(src, dst, **kw)

    monkeypatch.setattr(cache.os, "replace", spy)
    BTF.load(blob_file, use_cache=True)
    os.unlink(cache_dir / entry_name(blob_file))
    BTF.load(blob_file)
    assert len(seen) == 2 and seen[0] != seen[1]
    assert all(str(os.getpid()) not in name for name in seen)


def test_failed_write_leaves_no_debris(cache_dir, blob_file, monkeypatch):
    def fail(*args, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.os, "replace", fail)
    assert_right(BTF.load(blob_file))
    assert os.listdir(cache_dir) == []


# ----------------------------------------------------------------- reading
def test_swapped_names_are_detected(cache_dir, blob_file, scans):
    """Two names swapped where a sample of 64 entries does not look: the digest sees it."""
    BTF.load(blob_file)
    path = cache_dir / entry_name(blob_file)
    data = bytearray(path.read_bytes())
    _, _, keylen, count = HEAD.unpack_from(data)
    names = HEAD.size + keylen + 4 * (count + 1)
    a, b = names + 4 * 1, names + 4 * 2  # the names of s1 and s2
    data[a : a + 4], data[b : b + 4] = data[b : b + 4], data[a : a + 4]
    path.write_bytes(bytes(data))
    assert_right(BTF.load(blob_file))
    assert len(scans) == 2
    assert_cached(blob_file, scans)  # and it was rewritten


def test_btf_edit_keeping_size_and_mtime_is_seen(tmp_path, cache_dir, scans):
    """The key binds the entry to the BTF content itself, not to its size and mtime (nor a
    sample of its first and last 64 KiB)."""
    path = tmp_path / "big.btf"
    path.write_bytes(many_structs(12000))
    BTF.load(str(path))
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    a, b = 24 + 12 * 6000, 24 + 12 * 6001  # name_off of s6000 and s6001, mid-file
    assert 64 * 1024 < a < b < len(data) - 64 * 1024
    data[a : a + 4], data[b : b + 4] = data[b : b + 4], data[a : a + 4]
    with open(path, "r+b") as f:  # in place: same inode and size
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    btf = BTF.load(str(path))
    assert btf.struct("s6000").id == 6002 and btf.struct("s6001").id == 6001
    assert len(scans) == 2


def flip(at: int):
    def damage(data: bytes) -> bytes:
        out = bytearray(data)
        out[at] ^= 0x10
        return bytes(out)

    return damage


DAMAGES = {
    "empty": lambda d: b"",
    "garbage": lambda d: b"garbage",
    "header-only": lambda d: d[: HEAD.size],
    "truncated": lambda d: d[: len(d) // 2],
    "one-byte-short": lambda d: d[:-1],
    "appended": lambda d: d + b"\0\0\0\0",
    "flip-magic": flip(0),
    "flip-version": flip(8),
    "flip-count": flip(20),
    "flip-key": flip(HEAD.size + 5),
    "flip-offsets": flip(-6000),  # with 1000 types: offsets end 4000 bytes (+ digest) early
    "flip-names": flip(-1000),
    "flip-last": flip(-1),
    "zeros": lambda d: bytes(len(d)),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_damaged_entry_is_rebuilt(cache_dir, blob_file, scans, damage):
    BTF.load(blob_file)
    path = cache_dir / entry_name(blob_file)
    path.write_bytes(DAMAGES[damage](path.read_bytes()))
    assert_right(BTF.load(blob_file))
    assert len(scans) == 2
    assert_cached(blob_file, scans)


def test_fifo_entry_does_not_block(cache_dir, blob_file, scans, fed_fifo):
    os.mkdir(cache_dir, 0o700)
    fed_fifo(cache_dir / entry_name(blob_file), b"PYBPFIDX" + bytes(100))
    assert_right(BTF.load(blob_file))
    assert stat.S_ISREG(os.lstat(cache_dir / entry_name(blob_file)).st_mode)
    assert_cached(blob_file, scans)


def test_directory_at_the_entry(cache_dir, blob_file, scans):
    os.makedirs(cache_dir / entry_name(blob_file), mode=0o700)
    for _ in range(2):
        assert_right(BTF.load(blob_file))
    assert os.listdir(cache_dir) == [entry_name(blob_file)]  # no temporary file left


def test_huge_entry_is_not_read(cache_dir, blob_file, scans):
    BTF.load(blob_file)
    path = cache_dir / entry_name(blob_file)
    good = path.read_bytes()
    with open(path, "r+b") as f:  # sparse: big on paper, nothing on disk
        f.truncate(64 << 20)
    assert_right(BTF.load(blob_file))
    assert len(scans) == 2 and path.read_bytes() == good


@pytest.mark.skipif(not is_root(), reason="needs root to give a file to another user")
def test_entry_of_another_user_is_not_read(cache_dir, blob_file, scans):
    BTF.load(blob_file)
    os.chown(cache_dir / entry_name(blob_file), NOBODY, NOBODY)
    assert_right(BTF.load(blob_file))
    assert len(scans) == 2
    assert os.stat(cache_dir / entry_name(blob_file)).st_uid == 0  # rewritten as ours


def test_no_home_means_no_cache(monkeypatch):
    """A user with no home known gets no cache, not a "~" folder in the current directory."""
    monkeypatch.delenv("PYBPF_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(cache.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(cache.os.path, "expanduser", lambda p: p)
    assert cache.cache_dir() is None
    monkeypatch.setattr(cache.os.path, "expanduser", lambda p: p.replace("~", "/home/u"))
    assert cache.cache_dir() == "/home/u/.cache/pybpf"
