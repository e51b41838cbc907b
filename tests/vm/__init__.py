"""Tests that need kprobes, fentry/fexit and tp_btf: run inside Debian 12's 6.1 kernel by
tests/test_second_kernel.py (see conftest.py for PYBPF_VM_FULL)."""

import os

FULL = os.environ.get("PYBPF_VM_FULL") == "1"
