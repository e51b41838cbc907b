"""On-disk cache of a BTF file's :class:`~pybpf.btf.index.Index`.

A file's entry is keyed by its path, device, inode, size, mtime and a CRC of its first and
last 64 KiB; it is written atomically (temporary file + rename) and silently skipped when the
cache folder cannot be written. ``PYBPF_CACHE_DIR`` chooses the folder ("" or "off" turns
the cache off); else ``$XDG_CACHE_HOME/pybpf``, ``/var/cache/pybpf`` for root, or
``~/.cache/pybpf``.
"""

from __future__ import annotations

import os
import struct
import zlib
from array import array

from pybpf.btf.index import Index

MAGIC = b"PYBPFIDX"
VERSION = 1
_HEAD = struct.Struct("<8sIII")  # magic, version, key length, number of types
_SAMPLE = 64 * 1024


def cache_dir() -> str | None:
    """The folder for cache files, or ``None`` when caching is turned off."""
    env = os.environ.get("PYBPF_CACHE_DIR")
    if env is not None:
        return None if env in ("", "off", "0") else env
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return os.path.join(xdg, "pybpf")
    if os.geteuid() == 0:
        return "/var/cache/pybpf"
    return os.path.join(os.path.expanduser("~"), ".cache", "pybpf")


def file_key(path: str, st: os.stat_result, data: bytes | memoryview) -> bytes:
    """Identity of one version of a BTF file (``data`` is its content, e.g. an mmap)."""
    head = zlib.crc32(data[:_SAMPLE])
    tail = zlib.crc32(data[-_SAMPLE:])
    return (
        f"{os.path.abspath(path)}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{head:08x}|{tail:08x}"
    ).encode()


def _cache_path(folder: str, path: str) -> str:
    tag = zlib.crc32(os.path.abspath(path).encode())
    base = os.path.basename(path) or "btf"
    return os.path.join(folder, f"btf-{base}-{tag:08x}.idx")


def load(path: str, key: bytes, words: memoryview) -> Index | None:
    """The cached index for ``key``, or ``None`` (missing, stale, unreadable or corrupt)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with open(_cache_path(folder, path), "rb") as f:
            blob = f.read()
    except OSError:
        return None
    if len(blob) < _HEAD.size:
        return None
    magic, version, keylen, count = _HEAD.unpack_from(blob)
    body = _HEAD.size + keylen
    if magic != MAGIC or version != VERSION or blob[_HEAD.size : body] != key:
        return None
    if len(blob) != body + 4 * (2 * count + 1):
        return None
    offsets = array("I", blob[body : body + 4 * (count + 1)])
    names = blob[body + 4 * (count + 1) :]
    if not _plausible(offsets, names, words):
        return None
    return Index(offsets, words, names)


def _plausible(offsets: array, names: bytes, words: memoryview) -> bool:
    """Cheap checks that a cached index fits these words (ends match, samples agree)."""
    from pybpf.btf.format import record_words

    n = len(words)
    if not offsets or offsets[0] != 0 or offsets[-1] != n:
        return False
    step = max(1, (len(offsets) - 1) // 64)
    try:
        for i in range(0, len(offsets) - 1, step):
            at = offsets[i]
            name = int.from_bytes(names[4 * i : 4 * i + 4], "little")
            if at + 1 >= n or words[at] != name or at + record_words(words[at + 1]) != offsets[i + 1]:
                return False
    except Exception:
        return False
    return True


def store(path: str, key: bytes, index: Index) -> bool:
    """Write ``index`` for ``key``; returns False (and leaves no debris) when it cannot."""
    folder = cache_dir()
    if folder is None:
        return False
    target = _cache_path(folder, path)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, mode=0o755, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_HEAD.pack(MAGIC, VERSION, len(key), len(index)))
            f.write(key)
            f.write(index.offsets.tobytes())
            f.write(index.names_bytes)
        os.replace(tmp, target)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
