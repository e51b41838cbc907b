"""The second kernel: run the whole tests/vm folder inside Debian 12's 6.1 (kprobes,
kretprobes, fentry/fexit/fmod_ret, tp_btf) through ../shared/vm/run-in-vm, in one VM boot.

Deselect with `-m "not vm"`. Skipped when run-in-vm is not beside the repository (CI copies
the shared folder next to the fresh clone) or when not running as root.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN_IN_VM = REPO.parent / "shared" / "vm" / "run-in-vm"
TIMEOUT = 540  # seconds, for the VM's own --timeout; the test stays under 10 minutes


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "run-in-vm boots a VM as root: run the tests as root"
    if not RUN_IN_VM.is_file() or not os.access(RUN_IN_VM, os.X_OK):
        return f"no {RUN_IN_VM} (the shared folder is not beside the repository)"
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"
    return None


def _summary(text: str) -> str:
    """pytest's last summary line ("12 passed, 3 skipped in 40.1s")."""
    lines = [ln.strip("= ") for ln in text.splitlines()
             if re.search(r"\b(passed|failed|error|errors|no tests ran)\b", ln)
             and re.search(r"\bin [\d.]+s\b", ln)]
    return lines[-1] if lines else ""


@pytest.mark.vm
@pytest.mark.timeout(TIMEOUT + 420)  # the VM build and boot, beyond the suite-wide 300 s
@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_tests_vm_pass_on_debian_12_kernel():
    # the VM may have no clang: build the .bpf.o test objects here first
    build = subprocess.run([sys.executable, "-m", "tests.elf.build"], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
    if build.returncode:
        print(f"(tests.elf.build failed, the elf VM tests will skip:\n{build.stderr[-2000:]})")
    start = time.monotonic()
    proc = subprocess.run(
        [str(RUN_IN_VM), "--timeout", str(TIMEOUT), "--rw", str(REPO), "--",
         "python3", "-m", "pytest", "tests/vm", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT + 60)
    took = time.monotonic() - start
    summary = _summary(proc.stdout)
    print(f"VM (Debian 12, 6.1) pytest tests/vm: {summary or '(no summary)'}; "
          f"exit {proc.returncode}; {took:.0f} s with boot")
    details = f"\n--- stdout ---\n{proc.stdout[-12000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    assert proc.returncode != 124, f"the VM run hit its {TIMEOUT} s timeout" + details
    assert proc.returncode != 125, "the VM itself failed to run" + details
    assert proc.returncode == 0, f"tests/vm failed in the VM: {summary}" + details
    assert re.search(r"\b[1-9]\d* passed\b", summary), summary + details
    assert not re.search(r"\b(failed|errors?)\b", summary), summary + details
