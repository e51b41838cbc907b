"""Helpers shared by the tests."""

from __future__ import annotations

import os

import pytest

ROOT_REASON = "needs root (or CAP_BPF + CAP_PERFMON) to create BPF maps and load programs"

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason=ROOT_REASON)


# Python code for a child process that drops every capability (staying uid 0, so it can still
# read root's files), the way an unprivileged user would run pybpf.
DROP_CAPABILITIES = """
import ctypes
class _Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]
_libc = ctypes.CDLL(None, use_errno=True)
_hdr, _data = _Hdr(0x20080522, 0), (_Data * 2)()
assert _libc.capset(ctypes.byref(_hdr), _data) == 0, ctypes.get_errno()
"""
