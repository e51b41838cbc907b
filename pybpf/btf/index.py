"""Where each type record starts: one fast pass over the type section.

The index is two ``array('I')``: ``offsets[i]`` is the word position of type ``first_id + i``
(with one extra entry, the end of the section) and ``names[i]`` its ``name_off``. Names are
found by searching the string section for the name and then ``names`` for its offset, so no
type is decoded to find another.
"""

from __future__ import annotations

from array import array

from pybpf.btf.errors import BTFError
from pybpf.btf.format import EXTRA_WORDS, KIND_MAX, KIND_NAMES, MAX_TYPE_ID, VLEN_WORDS

_BASE = [3 + w for w in EXTRA_WORDS] + [0] * (32 - len(EXTRA_WORDS))
_PER_ITEM = list(VLEN_WORDS) + [0] * (32 - len(VLEN_WORDS))


class Index:
    """Record offsets (in u32 words) of the types of one BTF blob, and their name offsets.

    The name offsets are built on first use from ``words`` (or given by the disk cache)
    and kept as little-endian bytes, which ``with_name`` searches directly.
    """

    __slots__ = ("offsets", "_words", "_names_bytes")

    def __init__(self, offsets: array, words: memoryview, names_bytes: bytes | None = None) -> None:
        self.offsets = offsets
        self._words = words
        self._names_bytes = names_bytes

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def names_bytes(self) -> bytes:
        """``name_off`` of every record, in id order, as packed u32."""
        if self._names_bytes is None:
            words = self._words
            self._names_bytes = array("I", [words[o] for o in self.offsets[:-1]]).tobytes()
        return self._names_bytes

    @property
    def names(self) -> array:
        return array("I", self.names_bytes)

    def with_name(self, name_off: int) -> list[int]:
        """Positions (0-based) of the records whose ``name_off`` is ``name_off``."""
        blob = self.names_bytes
        needle = name_off.to_bytes(4, "little")
        found: list[int] = []
        pos = blob.find(needle)
        while pos >= 0:
            if pos % 4 == 0:
                found.append(pos // 4)
                pos = blob.find(needle, pos + 4)
            else:
                pos = blob.find(needle, pos + 1)
        return found


def scan(words: memoryview, first_id: int) -> Index:
    """Walk the type section (``words``: u32 view) once and return its :class:`Index`.

    Raises :class:`BTFError` for an unknown kind or a record that runs past the section.
    """
    steps: dict[int, int] = {}  # info word -> record length in words
    offsets = [0]
    add = offsets.append
    n = len(words)
    i = 0
    try:
        while True:
            info = words[i + 1]
            try:
                i += steps[info]
            except KeyError:
                kind = (info >> 24) & 0x1F
                if kind == 0 or kind > KIND_MAX:
                    raise BTFError(
                        f"type #{first_id + len(offsets) - 1} at byte {i * 4} of the type section "
                        f"has unknown kind {kind}"
                    ) from None
                step = steps[info] = _BASE[kind] + (info & 0xFFFF) * _PER_ITEM[kind]
                i += step
            add(i)
    except IndexError:
        pass
    if i != n:
        # i > n: the last record overran; i < n: a record header itself is cut short.
        at = offsets[-2] if i > n else i
        ntype = len(offsets) - (2 if i > n else 1)
        kind = (words[at + 1] >> 24) & 0x1F if at + 1 < n else None
        what = f"a {KIND_NAMES[kind]} record with vlen {words[at + 1] & 0xFFFF}" if kind is not None else "a record header"
        raise BTFError(
            f"type #{first_id + ntype}: {what} at byte {at * 4} runs past the end of "
            f"the type section ({n * 4} bytes): truncated or corrupt BTF"
        )
    if len(offsets) - 1 + first_id - 1 > MAX_TYPE_ID:
        raise BTFError(f"BTF has {len(offsets) - 1} types, more than the format allows")
    return Index(array("I", offsets), words)
