"""Helpers shared by the tests."""

from __future__ import annotations

import os

import pytest

ROOT_REASON = "needs root (or CAP_BPF + CAP_PERFMON) to create BPF maps and load programs"

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason=ROOT_REASON)
