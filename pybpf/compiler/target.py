"""What the compiler needs to know of the kernel it compiles for, found by probing (through
the one feature cache, `pybpf.sys.featurecache`): the code generator and the front ends take
a `Target` and never probe themselves. Without the privilege to probe, the answers are the
ones that work on every kernel (and are asked again later)."""

from __future__ import annotations

from dataclasses import dataclass

from pybpf.sys import featurecache
from pybpf.sys.featurecache import UNKNOWN


@dataclass(frozen=True)
class Target:
    #: the v4 ISA's signed division (sdiv/smod); without it signed division is emulated
    cpu_v4: bool = False
    #: bpf_get_current_comm fills the buffer after the name with zeros (Linux 6.1 does not:
    #: a comm() used in a map key must be zeroed first, or stale stack bytes split keys)
    comm_zero_padded: bool = False
    #: the bpf_loop helper (Linux 5.17): loops too costly to verify iteration by iteration
    #: run their body as a callback, verified once
    bpf_loop: bool = False


#: what works on every kernel
PORTABLE = Target()


def kernel_target() -> Target:
    """The Target of the running kernel (probed once; UNKNOWN answers as PORTABLE's)."""
    return Target(cpu_v4=bool(_cpu_v4()), comm_zero_padded=bool(_comm_zero_padded()),
                  bpf_loop=bool(_bpf_loop()))


@featurecache.probe(unknown=False)
def _cpu_v4() -> bool:
    from pybpf import asm
    from pybpf.asm import R0
    from pybpf.program import Program
    from pybpf.sys import BPFError, BPFPermissionError

    try:
        Program.load("socket_filter", [asm.mov(R0, 7), asm.sdiv(R0, 2), asm.exit()]).close()
        return True
    except BPFPermissionError:
        return UNKNOWN  # type: ignore[return-value]
    except BPFError:
        return False


@featurecache.probe(unknown=False)
def _bpf_loop() -> bool:
    from pybpf import asm
    from pybpf.asm import R0, R1, R2, R3, R4
    from pybpf.program import Program
    from pybpf.sys import BPFError, BPFPermissionError

    code = [asm.mov(R1, 1), asm.ld_func(R2, "cb"), asm.mov(R3, 0), asm.mov(R4, 0),
            asm.call("bpf_loop"), asm.mov(R0, 0), asm.exit(),
            asm.label("cb"), asm.mov(R0, 0), asm.exit()]
    try:
        Program.load("raw_tracepoint", asm.resolve(code), name="pybpf_probe").close()
        return True
    except BPFPermissionError:
        return UNKNOWN  # type: ignore[return-value]
    except BPFError:
        return False


# a raw tracepoint program run once: fill 16 stack bytes with 0xff, get the comm into them,
# and return the last byte (0 when the helper padded the name with zeros)
_COMM_PROBE = """
    r1 = -1
    *(u64 *)(r10 -16) = r1
    *(u64 *)(r10 -8) = r1
    r1 = r10
    r1 += -16
    r2 = 16
    call bpf_get_current_comm
    r0 = *(u8 *)(r10 -1)
    exit
"""


@featurecache.probe(unknown=False)
def _comm_zero_padded() -> bool:
    from pybpf import asm
    from pybpf.program import Program
    from pybpf.sys import BPFError, BPFPermissionError

    try:
        with open("/proc/thread-self/comm", "rb") as f:
            if len(f.read().rstrip(b"\n")) >= 15:
                return False  # the name's own NUL is the last byte: padding cannot be seen
    except OSError:
        return False
    try:
        with Program.load("raw_tracepoint", asm.assemble(_COMM_PROBE),
                          name="pybpf_probe") as prog:
            # the test run's task is this thread (its name was read above)
            return prog.test_run(ctx=b"\0" * 8).retval == 0
    except BPFPermissionError:
        return UNKNOWN  # type: ignore[return-value]
    except (BPFError, OSError):
        return False  # no test runs of raw tracepoints: zero the buffer, which always works


__all__ = ["PORTABLE", "Target", "kernel_target"]
