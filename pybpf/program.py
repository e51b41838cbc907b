"""Loading programs into the kernel: BPF_PROG_LOAD with the verifier log captured and turned into
a readable VerifierError, BPF_PROG_TEST_RUN, and run-time statistics."""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from pybpf import verifier_log
from pybpf.sys import (
    FD,
    AttachType,
    BPFError,
    NotSupportedError,
    ProgType,
    VerifierError,
    addr,
    bpf_raw,
    error_from_errno,
    objects,
    probe,
)
from pybpf.sys import constants as C
from pybpf.sys.attrs import ProgLoadAttr, TestRunAttr

_LOG_START = 1 << 16
_LOG_MAX = 1 << 29  # the kernel rejects log_size >= UINT_MAX >> 2


# program types whose BPF_PROG_TEST_RUN takes only ctx_in (and writes back into it)
_CTX_ONLY_TEST_RUN = {ProgType.SYSCALL, ProgType.RAW_TRACEPOINT,
                      ProgType.RAW_TRACEPOINT_WRITABLE, ProgType.TRACING}


@dataclass(frozen=True, slots=True)
class TestRun:
    """The result of BPF_PROG_TEST_RUN: r0, mean duration per run, output packet and context."""

    retval: int
    duration_ns: int
    data: bytes
    ctx: bytes


@dataclass(frozen=True, slots=True)
class ProgStats:
    run_cnt: int
    run_time_ns: int
    recursion_misses: int

    @property
    def ns_per_run(self) -> float:
        return self.run_time_ns / self.run_cnt if self.run_cnt else 0.0


def prog_type_of(name: str | ProgType) -> ProgType:
    if isinstance(name, ProgType):
        return name
    key = name.upper().removeprefix("BPF_PROG_TYPE_")
    try:
        return ProgType[key]
    except KeyError:
        known = ", ".join(t.name.lower() for t in ProgType if t)
        raise ValueError(f"unknown program type {name!r}; known types: {known}") from None


def attach_type_of(name: str | AttachType | None) -> AttachType | None:
    if name is None or isinstance(name, AttachType):
        return name
    key = name.upper().removeprefix("BPF_")
    try:
        return AttachType[key]
    except KeyError:
        known = ", ".join(t.name.lower() for t in AttachType)
        raise ValueError(f"unknown attach type {name!r}; known types: {known}") from None


def _encode(insns: Sequence[Any] | bytes) -> tuple[bytes, list[Any]]:
    """Bytecode and the map objects the instructions reference (kept alive by the program)."""
    if isinstance(insns, bytes | bytearray | memoryview):
        data = bytes(insns)
        if len(data) % 8:
            raise ValueError(f"bytecode length {len(data)} is not a multiple of 8")
        return data, []
    from pybpf import asm

    insns = list(insns)
    return asm.encode(insns), [i.map for i in insns if getattr(i, "map", None) is not None]


def _subprogram_btf(code: bytes, keep: list[Any]) -> tuple[Any, bytes]:
    """BTF and func_info for code with subprograms (callbacks, bpf-to-bpf calls) that came
    without them: the verifier needs a record per subprogram. (None, b"") for one function."""
    from pybpf.btf import funcinfo

    starts = funcinfo.subprogram_starts(code)
    if not starts:
        return None, b""
    from pybpf.btf.load import load_btf

    raw, records = funcinfo.func_info_btf(starts)
    fd = load_btf(raw)
    keep.append(fd)  # closed with `keep` once the program holds its own reference
    return fd, records


class Program:
    """A loaded BPF program: owns its fd; a context manager."""

    def __init__(
        self,
        fd: FD,
        prog_type: ProgType,
        name: str = "",
        insns: Sequence[Any] | None = None,
        refs: Sequence[Any] = (),
    ) -> None:
        self.fd = fd
        self.prog_type = prog_type
        self.name = name
        self.insns = list(insns) if insns is not None and not isinstance(insns, bytes) else None
        self._refs = list(refs)  # maps referenced by the code: alive as long as the program

    @classmethod
    def load(
        cls,
        prog_type: str | ProgType,
        insns: Sequence[Any] | bytes,
        license: str = "GPL",
        name: str | None = None,
        attach: str | AttachType | None = None,
        attach_btf_id: int = 0,
        attach_prog_fd: int = 0,
        prog_flags: int = 0,
        kern_version: int = 0,
        log_level: int = 0,
        ifindex: int = 0,
        btf: Any = None,
        func_info: bytes = b"",
        func_info_rec_size: int = 8,
        line_info: bytes = b"",
        line_info_rec_size: int = 16,
    ) -> Program:
        """Load `insns` (asm Instructions or raw bytecode) as a program of `prog_type`, the
        kernel's name without BPF_PROG_TYPE_ in lower case ("socket_filter", "xdp", ...).
        Raises VerifierError (with `.log`) when the verifier rejects it.

        `btf` (an fd or an object with `.fd`, as from `pybpf.btf.load.load_btf`) with
        `func_info` / `line_info` records (struct bpf_func_info / bpf_line_info) describe the
        program's functions and source lines; callbacks (bpf_loop) need func_info."""
        ptype = prog_type_of(prog_type)
        atype = attach_type_of(attach)
        code, refs = _encode(insns)
        if not code:
            raise ValueError("cannot load an empty program")
        pname = (name or ptype.name.lower())[: C.BPF_OBJ_NAME_LEN - 1]
        # the kernel accepts only [A-Za-z0-9_.] in object names
        pname_c = "".join(c if c.isalnum() or c in "_." else "_" for c in pname)
        insn_buf = ctypes.create_string_buffer(code, len(code))
        lic = ctypes.create_string_buffer(license.encode())
        attr = ProgLoadAttr(
            prog_type=ptype,
            insn_cnt=len(code) // 8,
            insns=addr(insn_buf),
            license=addr(lic),
            kern_version=kern_version,
            prog_flags=prog_flags | probe.LOAD_FLAGS.get(ptype, 0),
            prog_name=pname_c.encode(),
            prog_ifindex=ifindex,
            expected_attach_type=int(atype) if atype is not None else 0,
            attach_btf_id=attach_btf_id,
            attach_prog_fd=attach_prog_fd,
        )
        keep: list[Any] = []  # buffers the attr points into, alive until the syscall
        if btf is None and not func_info:
            btf, func_info = _subprogram_btf(code, keep)
        if btf is not None:
            btf_fd = getattr(btf, "fd", btf)
            attr.prog_btf_fd = int(btf_fd)
            for kind, data, rec in (("func_info", func_info, func_info_rec_size),
                                    ("line_info", line_info, line_info_rec_size)):
                if data:
                    b = ctypes.create_string_buffer(bytes(data), len(data))
                    keep.append(b)
                    setattr(attr, kind, addr(b))
                    setattr(attr, f"{kind}_rec_size", rec)
                    setattr(attr, f"{kind}_cnt", len(data) // rec)
        try:
            return cls._load(attr, log_level, ptype, pname, insns, refs)
        finally:
            for k in keep:
                if isinstance(k, FD):
                    k.close()

    @classmethod
    def _load(cls, attr: ProgLoadAttr, log_level: int, ptype: ProgType, pname: str,
              insns: Sequence[Any] | bytes, refs: list[Any]) -> Program:
        # First try without a log (cheapest); on failure load again with a log to explain it.
        log_size = _LOG_START if log_level else 0
        while True:
            log_buf = ctypes.create_string_buffer(log_size) if log_size else None
            attr.log_level = (log_level or 1) if log_size else 0
            attr.log_size = log_size
            attr.log_buf = addr(log_buf)
            attr.log_true_size = 0
            fd, err = bpf_raw(C.BPF_PROG_LOAD, attr)
            if fd >= 0:
                prog = cls(FD(fd), ptype, pname, insns, refs)
                prog.log = log_buf.value.decode(errors="replace") if log_buf else ""
                return prog
            if err == errno.ENOSPC and log_size and log_size < _LOG_MAX:
                log_size = min(max(log_size * 4, attr.log_true_size + 1), _LOG_MAX)
                continue
            if log_size == 0 and err in (
                errno.EACCES,
                errno.EINVAL,
                errno.EPERM,
                errno.E2BIG,
                errno.EFAULT,
                errno.ENOTSUP,
                C.ENOTSUPP,
            ):
                log_size = _LOG_START
                continue
            log = log_buf.value.decode(errors="replace") if log_buf else ""
            raise _load_error(err, log, ptype, pname, insns)

    def test_run(
        self,
        data: bytes = b"",
        ctx: bytes | None = None,
        repeat: int = 1,
        data_out_size: int | None = None,
        cpu: int | None = None,
    ) -> TestRun:
        """BPF_PROG_TEST_RUN: run the program in the kernel on `data` (a packet) and/or `ctx`.
        `duration_ns` is the kernel's mean time per run over `repeat` runs."""
        data_in = ctypes.create_string_buffer(bytes(data), len(data)) if data else None
        out_size = data_out_size if data_out_size is not None else (len(data) + 512 if data else 0)
        data_out = ctypes.create_string_buffer(out_size) if out_size else None
        ctx_in = ctypes.create_string_buffer(bytes(ctx), len(ctx)) if ctx else None
        ctx_out = ctypes.create_string_buffer(len(ctx)) if ctx else None
        if self.prog_type in _CTX_ONLY_TEST_RUN:
            # these types run once per call, write results back into ctx_in and take no
            # data, repeat or ctx_out: repeat is done here, one call per run
            if data:
                raise ValueError(f"{self.prog_type.name.lower()} programs take only ctx, no data")
            if repeat > 1:
                for _ in range(repeat - 1):
                    self.test_run(ctx=ctx, cpu=cpu)
            repeat, ctx_out, out_size = 0, None, 0
        attr = TestRunAttr(
            prog_fd=self.fd.fileno(),
            data_size_in=len(data),
            data_in=addr(data_in),
            data_size_out=out_size,
            data_out=addr(data_out),
            repeat=repeat,
            ctx_size_in=len(ctx) if ctx else 0,
            ctx_in=addr(ctx_in),
            ctx_size_out=len(ctx) if ctx_out else 0,
            ctx_out=addr(ctx_out),
        )
        if cpu is not None:
            attr.flags, attr.cpu = C.BPF_F_TEST_RUN_ON_CPU, cpu
        ret, err = bpf_raw(C.BPF_PROG_TEST_RUN, attr)
        if ret < 0:
            if err in (errno.ENOTSUP, C.ENOTSUPP):
                raise NotSupportedError(
                    f"BPF_PROG_TEST_RUN is not supported for {self.prog_type.name.lower()} "
                    "programs on this kernel",
                    err,
                )
            raise error_from_errno(err, f"bpf(BPF_PROG_TEST_RUN) of '{self.name}'")
        out = data_out.raw[: attr.data_size_out] if data_out else b""
        if ctx_out is not None:
            ctx_res = ctx_out.raw[: attr.ctx_size_out]
        else:
            ctx_res = ctx_in.raw[: len(ctx)] if ctx_in is not None else b""
        return TestRun(attr.retval, attr.duration, out, ctx_res)

    def info(self) -> Any:
        """The kernel's struct bpf_prog_info for this program."""
        return objects.prog_info(self.fd.fileno())

    @property
    def id(self) -> int:
        return self.info().id

    def stats(self) -> ProgStats:
        """Run count and run time as the kernel counts them. The kernel counts only while
        statistics are enabled: see `enable_stats()` or sysctl kernel.bpf_stats_enabled."""
        i = self.info()
        return ProgStats(i.run_cnt, i.run_time_ns, i.recursion_misses)

    def xlated(self) -> bytes:
        """The program as the kernel rewrote it (BPF_OBJ_GET_INFO_BY_FD xlated_prog_insns)."""
        n = self.info().xlated_prog_len
        buf = ctypes.create_string_buffer(n)
        from pybpf.sys.attrs import ProgInfo

        info = ProgInfo(xlated_prog_len=n, xlated_prog_insns=addr(buf))
        objects.info_by_fd(self.fd.fileno(), info)
        return buf.raw[: info.xlated_prog_len]

    def close(self) -> None:
        self.fd.close()

    @property
    def closed(self) -> bool:
        return self.fd.closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.fd.closed else f"fd={self.fd.fileno()}"
        return f"<Program {self.name!r} {self.prog_type.name.lower()} {state}>"


def enable_stats() -> FD:
    """Turn on the kernel's per-program run-time statistics while the returned FD is open
    (use it as a context manager)."""
    return objects.enable_stats()


def _load_error(
    err: int, log: str, ptype: ProgType, name: str, insns: Sequence[Any] | bytes
) -> BPFError:
    what = ptype.name.lower()
    if log.strip():

        def disassemble_at(index: int) -> str | None:
            try:
                from pybpf import asm

                decoded = asm.decode(insns) if isinstance(insns, bytes) else list(insns)
                slot = 0
                for insn in decoded:
                    if slot == index:
                        return asm.disassemble([insn]).strip()
                    slot += insn.size
            except Exception:  # the log's own text is shown instead
                return None
            return None

        message, index = verifier_log.describe(log, name, what, disassemble_at)
        return VerifierError(message, log, index, err)
    if err == errno.EINVAL:
        if not probe.prog_type(ptype):
            return NotSupportedError(f"program type {what} is not supported by this kernel", err)
    return error_from_errno(err, f"loading {what} program '{name}'")
