"""The system layer: bpf(2), perf_event_open(2), UAPI constants and attr structs, typed errors.

Everything above this layer talks to the kernel through these names only.
"""

from pybpf.sys.constants import AttachType, LinkType, MapType, ProgType
from pybpf.sys.errors import (
    BPFError,
    BPFPermissionError,
    MapFullError,
    NotSupportedError,
    VerifierError,
    error_from_errno,
)
from pybpf.sys.fd import FD
from pybpf.sys.syscall import addr, bpf, bpf_raw, ioctl, perf_event_open

__all__ = [
    "FD", "AttachType", "BPFError", "BPFPermissionError", "LinkType", "MapFullError", "MapType",
    "NotSupportedError", "ProgType", "VerifierError", "addr", "bpf", "bpf_raw",
    "error_from_errno", "ioctl", "perf_event_open",
]
