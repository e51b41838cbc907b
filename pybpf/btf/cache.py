"""On-disk cache of a BTF file's :class:`~pybpf.btf.index.Index`.

``PYBPF_CACHE_DIR`` chooses the folder ("" or "off" turns the cache off); else
``$XDG_CACHE_HOME/pybpf``, ``/var/cache/pybpf`` for root, or ``~/.cache/pybpf``.

The cache is only a speed-up, so anything doubtful makes it step aside, silently:

* The folder must be a real directory (not a symlink) owned by this user and not writable by
  group or others; it is created with mode 0700. Otherwise (e.g. ``sudo -E`` keeping another
  user's ``XDG_CACHE_HOME``) nothing is read or written there. All file operations go
  through the checked directory's descriptor, so the folder cannot be swapped afterwards.
* Files are opened with ``O_NOFOLLOW``; the temporary file has a random name, is created with
  ``O_EXCL`` and renamed over the entry, so no existing file or symlink is ever written to.
* An entry's key is the SHA-256 of the BTF type section, which is all that the index is
  computed from: a hit is exactly the index a fresh scan would give. The whole entry is
  covered by a SHA-256 digest checked before anything in it is used; an entry that fails
  any check is ignored and rewritten.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from array import array
from typing import TYPE_CHECKING, Any

from pybpf.btf.index import Index

if TYPE_CHECKING:
    import mmap

    from pybpf.btf.format import Header

MAGIC = b"PYBPFIDX"
VERSION = 2  # 2: digest over the entry, key is a hash of the type section
_HEAD = struct.Struct("<8sIII")  # magic, version, key length, number of types
_DIGEST = 32  # SHA-256 of everything before it, at the end of the entry
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted as the entry must not block the load (it is then refused).
_OPEN_ENTRY = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
_CREATE_TMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def cache_dir() -> str | None:
    """The folder for cache files, or ``None`` when caching is turned off.

    The folder is not checked here; :func:`load` and :func:`store` refuse an unsafe one.
    """
    # A relative folder would be made wherever the command happens to run (the XDG spec
    # says to ignore relative paths): caching is off then, as it is for "off".
    env = os.environ.get("PYBPF_CACHE_DIR")
    if env is not None:
        return None if env in ("", "off", "0") or not os.path.isabs(env) else env
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "pybpf")
    if os.geteuid() == 0:
        return "/var/cache/pybpf"
    home = os.path.expanduser("~")
    # No home known ("~" unexpanded): no cache, rather than a "~" folder in the current one.
    return os.path.join(home, ".cache", "pybpf") if os.path.isabs(home) else None


def index_key(data: bytes | mmap.mmap, header: Header) -> bytes:
    """Identity of the content an index is computed from: the type section (with its length).

    A content hash rather than file metadata, so an edit that keeps size and mtime is still
    seen, and a reboot into the same kernel keeps its cache entry.
    """
    start, end = header.type_start, header.type_start + header.type_len
    with memoryview(data) as view, view[start:end] as section:
        digest = _sha256(section).hexdigest()
    return f"btf-types|{header.type_len}|sha256:{digest}".encode()


def _sha256(data: bytes | memoryview) -> Any:
    # Imported when first used: hashlib loads OpenSSL (a few ms, MBs of RSS), which a
    # process with the cache turned off need not pay for.
    import hashlib

    return hashlib.sha256(data)


def _entry_name(path: str) -> str:
    tag = zlib.crc32(os.path.abspath(path).encode())
    # Only harmless characters, and short: the name must stay one valid path component.
    base = "".join(c if c.isalnum() or c in "-_." else "_" for c in os.path.basename(path))
    return f"btf-{base[:64] or 'btf'}-{tag:08x}.idx"


def _safe(st: os.stat_result) -> bool:
    """Owned by us and writable by nobody else: no one else can plant or swap entries."""
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _open_dir(folder: str, create: bool) -> int | None:
    """A descriptor of the checked cache folder (made if ``create``), or ``None``."""
    try:
        fd = os.open(folder, _OPEN_DIR)
    except FileNotFoundError:
        if not create or not _make_dir(folder):
            return None
        try:
            fd = os.open(folder, _OPEN_DIR)
        except OSError:
            return None
    except OSError:  # a symlink (ELOOP), not a directory, no permission, ...
        return None
    try:
        if _safe(os.fstat(fd)):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _make_dir(folder: str) -> bool:
    parent = os.path.dirname(os.path.abspath(folder))
    try:
        os.makedirs(parent, exist_ok=True)
        # Not inside another user's folder: root under `sudo -E` would otherwise leave a
        # root-owned directory in the user's cache that the user can neither use nor empty.
        if os.stat(parent).st_uid not in (os.geteuid(), 0):
            return False
        os.mkdir(folder, 0o700)
    except FileExistsError:  # made meanwhile by another process: checked when opened
        pass
    except OSError:
        return False
    return True


def _max_entry_size(key: bytes, nwords: int) -> int:
    """The largest possible entry for a type section of ``nwords`` (records are >= 3 words)."""
    return _HEAD.size + len(key) + 4 * (2 * (nwords // 3) + 1) + _DIGEST


def load(path: str, key: bytes, words: memoryview) -> Index | None:
    """The cached index for ``key``, or ``None`` (missing, stale, unsafe, damaged)."""
    folder = cache_dir()
    if folder is None:
        return None
    dfd = _open_dir(folder, create=False)
    if dfd is None:
        return None
    limit = _max_entry_size(key, len(words))
    try:
        fd = os.open(_entry_name(path), _OPEN_ENTRY, dir_fd=dfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or not _safe(st) or st.st_size > limit:
                return None
            blob = _read(fd, limit + 1)
        finally:
            os.close(fd)
    except OSError:
        return None
    finally:
        os.close(dfd)
    try:
        return _parse(blob, key, words)
    except (ValueError, struct.error):  # _parse checks lengths; this is a second net
        return None


def _read(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _parse(blob: bytes, key: bytes, words: memoryview) -> Index | None:
    if len(blob) < _HEAD.size + _DIGEST:
        return None
    body = memoryview(blob)[:-_DIGEST]
    # Everything is checked before any of it is trusted, not a sample: one swapped name
    # would otherwise make a look-up find the wrong type.
    if _sha256(body).digest() != blob[-_DIGEST:]:
        return None
    magic, version, keylen, count = _HEAD.unpack_from(blob)
    start = _HEAD.size + keylen
    if magic != MAGIC or version != VERSION or blob[_HEAD.size : start] != key:
        return None
    if len(body) != start + 4 * (2 * count + 1):
        return None
    offsets = array("I")
    offsets.frombytes(body[start : start + 4 * (count + 1)])  # array(view) would take bytes
    names = bytes(body[start + 4 * (count + 1) :])
    # Written by us for this exact type section, so these hold unless pybpf itself erred.
    if offsets[0] != 0 or offsets[-1] != len(words):
        return None
    return Index(offsets, words, names)


def store(path: str, key: bytes, index: Index) -> bool:
    """Write ``index`` for ``key``; returns False (and leaves no debris) when it cannot."""
    folder = cache_dir()
    if folder is None:
        return False
    dfd = _open_dir(folder, create=True)
    if dfd is None:
        return False
    payload = b"".join((_HEAD.pack(MAGIC, VERSION, len(key), len(index)), key,
                        index.offsets.tobytes(), index.names_bytes))  # fmt: skip
    payload += _sha256(payload).digest()
    tmp = None
    try:
        target = _entry_name(path)  # abspath: may fail (OSError) if the cwd was removed
        for _ in range(8):  # a random name: another process cannot predict or pre-create it
            name = f".{target}.{os.urandom(8).hex()}.tmp"
            try:
                fd = os.open(name, _CREATE_TMP, 0o600, dir_fd=dfd)
            except FileExistsError:
                continue
            tmp = name
            break
        else:
            return False
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        # rename replaces whatever is at the target (even a symlink) without following it.
        os.replace(tmp, target, src_dir_fd=dfd, dst_dir_fd=dfd)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
        os.close(dfd)
