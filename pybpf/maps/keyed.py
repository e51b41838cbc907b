"""Maps from keys to values: hash maps (plain, LRU, per CPU), arrays (plain, per CPU) and
longest-prefix-match tries keyed by IP networks."""

from __future__ import annotations

import ipaddress
from typing import Any

from pybpf.maps.base import Map, possible_cpus
from pybpf.sys import (
    MapType,
)
from pybpf.sys import constants as C
from pybpf.types import codec


class Hash(Map):
    map_type = MapType.HASH


class LRUHash(Map):
    map_type = MapType.LRU_HASH
    counts_refusals = False  # makes room by evicting the least recently used


class Array(Map):
    """Fixed-size array: keys 0..max_entries-1 always exist (zero until set); no deletes."""

    map_type = MapType.ARRAY
    compiler_kind = "array"
    counts_refusals = False
    default_max_entries = 1

    def __init__(self, key: Any = "u32", value: Any = "u64", max_entries: int | None = None,
                 name: str | None = None, flags: int = 0) -> None:
        if codec(key).size != 4:
            raise ValueError("array map keys are u32 indices")
        super().__init__(key, value, max_entries, name, flags)

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, int) and not 0 <= key < self.max_entries:
            raise IndexError(f"array map '{self.name}' has indices 0..{self.max_entries - 1}; "
                             f"got {key}")
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        raise TypeError(f"array map '{self.name}': elements cannot be deleted; "
                        "set them to zero instead")

    def __len__(self) -> int:
        return self.max_entries

    def clear(self) -> None:
        zero = bytes(self._value_size())
        for i in range(self.max_entries):
            self.update_raw(self._pack_key(i), zero)


class _PerCPU(Map):
    """Per-CPU values: the user-space view is a list, one value per possible CPU, each padded
    to 8 bytes by the kernel."""

    def _value_size(self) -> int:
        return _round8(self.value_codec.size) * possible_cpus()

    def _pack_value(self, value: Any) -> bytes:
        ncpu, slot = possible_cpus(), _round8(self.value_codec.size)
        values = list(value) if isinstance(value, list | tuple) else [value] * ncpu
        if len(values) != ncpu:
            raise ValueError(f"map '{self.name}': a per-CPU value needs {ncpu} items "
                             f"(one per possible CPU), got {len(values)}")
        return b"".join(super(_PerCPU, self)._pack_value(v).ljust(slot, b"\0")
                        for v in values)

    def _unpack_value(self, raw: bytes) -> list[Any]:
        slot = _round8(self.value_codec.size)
        return [self.value_codec.unpack(raw[i * slot:(i + 1) * slot])
                for i in range(possible_cpus())]

    def sum(self, key: Any) -> int:
        """The sum over CPUs of an integer per-CPU value (0 when the key is absent)."""
        values = self.get(key)
        return sum(values) if values else 0


def _round8(n: int) -> int:
    return (n + 7) & ~7


class PerCPUHash(_PerCPU):
    map_type = MapType.PERCPU_HASH
    per_cpu = True


class LRUPerCPUHash(_PerCPU):
    map_type = MapType.LRU_PERCPU_HASH
    per_cpu = True
    counts_refusals = False


class PerCPUArray(_PerCPU, Array):
    map_type = MapType.PERCPU_ARRAY
    per_cpu = True

    def clear(self) -> None:
        zero = bytes(self._value_size())
        for i in range(self.max_entries):
            self.update_raw(self._pack_key(i), zero)


class LPMTrie(Map):
    """Longest-prefix-match trie. Keys are (prefixlen, data) pairs, or ipaddress networks and
    addresses when `data` is "ipv4" or "ipv6". Looking up a full-length key (an address) gives
    the value of the longest matching prefix."""

    map_type = MapType.LPM_TRIE
    default_flags = C.BPF_F_NO_PREALLOC
    supports_batch = False

    def __init__(self, data: Any = "ipv4", value: Any = "u64", max_entries: int | None = None,
                 name: str | None = None, flags: int = 0) -> None:
        self.ip_version = {"ipv4": 4, "ipv6": 6}.get(data) if isinstance(data, str) else None
        data_codec = codec({4: "u8[4]", 6: "u8[16]"}.get(self.ip_version or 0, data))
        self.data_codec = data_codec
        super().__init__(4 + data_codec.size, value, max_entries, name, flags)

    def _pack_key(self, key: Any) -> bytes:
        if isinstance(key, str) and self.ip_version:
            key = ipaddress.ip_network(key, strict=False) if "/" in key \
                else ipaddress.ip_address(key)
        if isinstance(key, ipaddress.IPv4Network | ipaddress.IPv6Network):
            self._check_version(key.version, key)
            prefixlen, data = key.prefixlen, key.network_address.packed
        elif isinstance(key, ipaddress.IPv4Address | ipaddress.IPv6Address):
            self._check_version(key.version, key)
            prefixlen, data = key.max_prefixlen, key.packed
        else:
            try:
                prefixlen, value = key
                data = self.data_codec.pack(value)
            except (TypeError, ValueError) as e:
                raise KeyError(f"LPM trie '{self.name}': a key is (prefixlen, data) or an "
                               f"IP network/address: {e}") from None
        if not 0 <= prefixlen <= self.data_codec.size * 8:
            raise KeyError(f"LPM trie '{self.name}': prefix length {prefixlen} is out of "
                           f"0..{self.data_codec.size * 8}")
        return prefixlen.to_bytes(4, "little") + data

    def _check_version(self, version: int, key: Any) -> None:
        if self.ip_version and version != self.ip_version:
            raise KeyError(f"LPM trie '{self.name}' holds IPv{self.ip_version} keys, "
                           f"not {key}")

    def _unpack_key(self, raw: bytes) -> Any:
        prefixlen, data = int.from_bytes(raw[:4], "little"), raw[4:]
        if self.ip_version:
            return ipaddress.ip_network((data, prefixlen))
        return prefixlen, self.data_codec.unpack(data)
