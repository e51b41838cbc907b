"""The same .bpf.o files on another kernel: each program attaches where that kernel supports
its section, or is skipped with a message naming the section; what attaches must count the
events this test causes. Meant for Debian 12's 6.1 (kprobes, fentry, tp_btf) as well as the
host (6.18, no kprobes or fentry):

    python -m tests.elf.build                      # compile on the host (clang)
    ../shared/vm/run-in-vm --rw "$PWD" -- python3 -m pytest tests/vm/test_elf_vm.py -q
"""

from __future__ import annotations

import os
import platform

import pytest

from pybpf.btf import kernel_btf
from pybpf.elf import Object
from pybpf.elf.kconfig import kernel_version
from pybpf.link import kprobes_available
from tests.elf.build import build, clang, prebuilt
from tests.util import requires_root

pytestmark = requires_root


def _obj(name: str) -> str:
    return build(name) if clang() else prebuilt(name)


def test_kernel_under_test():
    print(f"kernel {platform.release()}, kprobes: {kprobes_available()}")


def test_tracing_sections(no_leaks):
    with Object.open(_obj("tracing")) as obj:
        obj.load(skip_unsupported=True)
        obj.attach_all(skip_unsupported=True)
        os.getuid()
        with open("/proc/self/stat", "rb") as f:
            f.read()
        hits = dict(obj.maps.hits.items())
        progs = obj.programs
        assert progs.on_tracepoint.links and hits[3] >= 1
        if kprobes_available():
            assert progs.on_kprobe.links, progs.on_kprobe.skipped
            assert hits[0] >= 1
        else:
            assert "section 'kprobe/vfs_read'" in progs.on_kprobe.skipped
        for prog, key in ((progs.on_fentry, 1), (progs.on_tp_btf, 2)):
            if prog.links:
                assert hits[key] >= 1, prog.name
            else:
                assert f"section '{prog.section.name}'" in prog.skipped
        if platform.release().startswith("6.1."):
            # Debian 12's kernel has BPF trampolines: fentry and tp_btf attach there
            assert progs.on_fentry.links and progs.on_tp_btf.links


def test_core_on_this_kernel(no_leaks):
    with Object.open(_obj("core")) as obj:
        obj.rodata.target_pid = os.getpid()
        obj.load()
        obj.attach_all()
        os.getsid(0)
        r = obj.maps.results[0]
    assert r["pid"] == r["tgid"] == os.getpid()
    assert r["ppid"] == os.getppid()
    assert r["missing_exists"] == 0
    assert r["task_size"] == kernel_btf().sizeof("struct task_struct")
    assert r["ringbuf_value"] == 27


def test_globals_kconfig_and_ring_buffer(no_leaks):
    with Object.open(_obj("globals")) as obj:
        obj.rodata.cfg = {"target_pid": os.getpid(), "scale": 2, "tag": "vm"}
        obj.load()
        obj.attach_all()
        os.getpgid(0)
        assert obj.bss.kernel_version == kernel_version()
        assert obj.bss.seen_tag == "vm"
        assert obj.bss.last_scaled == 14
    with Object.open(_obj("ringbuf")) as obj:
        obj.rodata.target_pid = os.getpid()
        obj.load()
        obj.attach_all()
        os.getppid()
        assert len(obj.maps.events.poll(1000)) == 1


@pytest.mark.parametrize("name", ["counter", "net"])
def test_loads(name, no_leaks):
    with Object.open(_obj(name)) as obj:
        obj.load()
        assert all(p.loaded for p in obj.programs.values())
