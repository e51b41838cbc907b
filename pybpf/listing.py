"""Rows for `pybpf prog list` and `pybpf map list`: the kernel's programs and maps with their
info, like bpftool's listings."""

from __future__ import annotations

import ctypes
from typing import Any

from pybpf.sys import BPFError, MapType, ProgType, addr, objects
from pybpf.sys.attrs import ProgInfo


def _type_name(enum: type[ProgType] | type[MapType], value: int) -> str:
    try:
        return enum(value).name.lower()
    except ValueError:
        return f"type {value}"


def prog_rows() -> list[dict[str, Any]]:
    rows = []
    for prog_id in objects.ids("prog"):
        try:
            with objects.fd_by_id("prog", prog_id) as fd:
                info = objects.prog_info(fd.fileno())
                map_ids = (ctypes.c_uint32 * info.nr_map_ids)()
                if info.nr_map_ids:
                    objects.info_by_fd(fd.fileno(), ProgInfo(nr_map_ids=info.nr_map_ids,
                                                             map_ids=addr(map_ids)))
        except BPFError:  # unloaded meanwhile
            continue
        rows.append({
            "id": info.id, "type": _type_name(ProgType, info.type),
            "name": info.name.decode(errors="replace"), "tag": bytes(info.tag).hex(),
            "run_cnt": info.run_cnt, "run_time_ns": info.run_time_ns,
            "xlated_bytes": info.xlated_prog_len, "jited_bytes": info.jited_prog_len,
            "map_ids": list(map_ids), "uid": info.created_by_uid,
        })
    return rows


def map_rows() -> list[dict[str, Any]]:
    rows = []
    for map_id in objects.ids("map"):
        try:
            with objects.fd_by_id("map", map_id) as fd:
                info = objects.map_info(fd.fileno())
        except BPFError:
            continue
        rows.append({
            "id": info.id, "type": _type_name(MapType, info.type),
            "name": info.name.decode(errors="replace"), "key_size": info.key_size,
            "value_size": info.value_size, "max_entries": info.max_entries,
            "flags": info.map_flags,
        })
    return rows
