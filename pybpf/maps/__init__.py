"""BPF maps with a Python mapping API: one class per map type, typed keys and values.

    counts = maps.Hash(key="char[16]", value="u64", max_entries=10240)
    counts["bash"] = 1
    for comm, n in counts.items(): ...

Keys and values are type specs understood by `pybpf.types.codec` ("u32", "char[16]", ctypes
types and Structures). Per-CPU maps read back a list with one value per possible CPU.
"""

from __future__ import annotations

from pybpf.maps.base import Map, possible_cpus
from pybpf.maps.keyed import (
    Array,
    Hash,
    LPMTrie,
    LRUHash,
    LRUPerCPUHash,
    PerCPUArray,
    PerCPUHash,
)
from pybpf.maps.redirect import CpuMap, DevMap, DevMapHash, XskMap
from pybpf.maps.special import (
    PERF_MAX_STACK_DEPTH,
    ArrayOfMaps,
    PerfEventArray,
    ProgArray,
    RingBuf,
    StackTrace,
)

__all__ = [
    "Array", "ArrayOfMaps", "CpuMap", "DevMap", "DevMapHash", "XskMap", "Hash", "LPMTrie", "LRUHash", "LRUPerCPUHash", "Map",
    "PerCPUArray", "PerCPUHash", "PerfEventArray", "ProgArray", "RingBuf", "StackTrace",
    "PERF_MAX_STACK_DEPTH", "possible_cpus",
]
