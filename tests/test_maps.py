"""Maps from user space: every type created, filled, read back and deleted."""

from __future__ import annotations

import ctypes
import ipaddress

import pytest

from pybpf import MapFullError, maps
from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.usefixtures("no_leaks")]


def test_hash_mapping_api():
    with maps.Hash(key="char[16]", value="u64", max_entries=8, name="counts") as m:
        m["bash"] = 3
        m["python"] = 5
        assert m["bash"] == 3 and m.get("zsh", 0) == 0
        assert "bash" in m and "zsh" not in m
        assert dict(m.items()) == {"bash": 3, "python": 5}
        assert sorted(m.keys()) == ["bash", "python"] and sorted(m.values()) == [3, 5]
        assert len(m) == 2
        del m["bash"]
        assert dict(m.items()) == {"python": 5}
        with pytest.raises(KeyError):
            del m["bash"]
        with pytest.raises(KeyError):
            m["nothere"]
        assert m.pop("python") == 5 and len(m) == 0
        m.update("a", 1, flags=1)  # BPF_NOEXIST
        with pytest.raises(KeyError, match="key exists"):
            m.update("a", 2, flags=1)
        with pytest.raises(KeyError, match="does not exist"):
            m.update("b", 2, flags=2)  # BPF_EXIST
        m.clear()
        assert len(m) == 0


def test_full_map_error_is_clear():
    with maps.Hash(key="u32", value="u32", max_entries=2, name="small") as m:
        m[1] = m[2] = 1
        with pytest.raises(MapFullError, match="'small' is full.*max_entries=2"):
            m[3] = 1
        m[2] = 5  # updating an existing key still works
        assert m[2] == 5


def test_wrong_key_and_value_sizes_are_clear():
    with maps.Hash(key="u32", value="u8[4]", max_entries=2) as m:
        with pytest.raises(KeyError, match="bad key"):
            m["not a number"] = b"abcd"
        with pytest.raises(ValueError, match="need exactly 4 bytes"):
            m[1] = b"abc"


def test_many_entries_use_batches():
    with maps.Hash(key="u32", value="u64", max_entries=10000) as m:
        for i in range(5000):
            m[i] = i * i
        assert dict(m.items()) == {i: i * i for i in range(5000)}


def test_array_semantics():
    with maps.Array(value="u32", max_entries=4) as a:
        a[1] = 7
        assert list(a.items()) == [(0, 0), (1, 7), (2, 0), (3, 0)]
        assert len(a) == 4
        with pytest.raises(TypeError, match="cannot be deleted"):
            del a[1]
        a.clear()
        assert a[1] == 0
        with pytest.raises(IndexError, match="indices 0..3; got 4"):
            a[4] = 1
        assert 4 not in a


def test_percpu_values_are_lists():
    ncpu = maps.possible_cpus()
    with maps.PerCPUArray(value="u64", max_entries=2) as pa, \
            maps.PerCPUHash(key="u32", value="u32", max_entries=4) as ph:
        pa[0] = list(range(1, ncpu + 1))
        assert pa[0] == list(range(1, ncpu + 1))
        assert pa.sum(0) == sum(range(1, ncpu + 1))
        assert pa[1] == [0] * ncpu
        ph[3] = 9  # a scalar is stored on every CPU
        assert dict(ph.items()) == {3: [9] * ncpu}
        with pytest.raises(ValueError, match="one per possible CPU"):
            ph[4] = [1] * (ncpu + 1)


def test_lru_evicts_instead_of_failing():
    with maps.LRUHash(key="u32", value="u64", max_entries=4) as m:
        for i in range(64):
            m[i] = i
        assert 0 < len(m) <= 4 + maps.possible_cpus() * 2
        assert 63 in m  # the newest survives
    with maps.LRUPerCPUHash(key="u32", value="u64", max_entries=4) as m:
        m[1] = 1
        assert m[1] == [1] * maps.possible_cpus()


def test_lpm_trie_longest_prefix_match():
    with maps.LPMTrie("ipv4", value="u32", max_entries=16) as t:
        t["198.18.0.0/15"] = 1
        t["198.18.7.0/24"] = 2
        t[ipaddress.ip_network("0.0.0.0/0")] = 9
        assert t["198.18.7.9"] == 2
        assert t["198.19.1.1"] == 1
        assert t["8.8.8.8"] == 9
        assert dict(t.items()) == {ipaddress.ip_network("198.18.0.0/15"): 1,
                                   ipaddress.ip_network("198.18.7.0/24"): 2,
                                   ipaddress.ip_network("0.0.0.0/0"): 9}
        del t["0.0.0.0/0"]
        assert "8.8.8.8" not in t
        with pytest.raises(KeyError, match="IPv4"):
            t["2001:2::/48"] = 1
    with maps.LPMTrie("ipv6", value="u8", max_entries=4) as t6:
        t6["2001:2::/48"] = 4
        assert t6["2001:2::1"] == 4 and "2001:3::1" not in t6
    with maps.LPMTrie("u32", value="u8", max_entries=4) as raw:
        raw[(8, 0x0A000000)] = 1
        assert list(raw.keys()) == [(8, 0x0A000000)]
        with pytest.raises(KeyError, match="prefix length 33"):
            raw[(33, 0)] = 1


def test_struct_values():
    class Event(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]

    with maps.Hash(key="u32", value=Event, max_entries=4) as m:
        m[1] = Event(pid=42, comm=b"init")
        ev = m[1]
        assert (ev.pid, ev.comm) == (42, b"init")


def test_other_types_create():
    with maps.StackTrace(max_entries=16) as st:
        assert st.stack(-14) == [] and st.stack(3) == []
    with maps.RingBuf(4096) as rb:
        with pytest.raises(TypeError, match="no keys"):
            rb[0]
    with pytest.raises(ValueError, match="power of two"):
        maps.RingBuf(5000)
    with maps.PerfEventArray() as pa:
        assert pa.max_entries == maps.possible_cpus()
    with maps.ProgArray(max_entries=4) as pa:
        assert 0 not in pa  # no program stored yet
    with maps.Array(value="u32", max_entries=1) as inner, \
            maps.ArrayOfMaps(inner, max_entries=2) as outer:
        outer[0] = inner
        assert outer[0] == inner.id


def test_open_by_id_reads_raw_bytes():
    with maps.Hash(key="u32", value="u32", max_entries=2) as m:
        m[5] = 6
        with maps.Map.from_id(m.id) as same:
            assert dict(same.items()) == {(5).to_bytes(4, "little"): (6).to_bytes(4, "little")}


def test_close_is_idempotent_and_closed_map_errors():
    m = maps.Hash(key="u32", value="u32", max_entries=2)
    m.close()
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m[1] = 1
