"""A small kit for the events tests: hand-encoded BPF programs, maps made with the sys layer,
and raw tracepoint test runs. Independent of pybpf.asm / pybpf.maps / pybpf.program, so the
reader tests run while those are being written."""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field

from pybpf.sys import FD, MapType, ProgType, bpf
from pybpf.sys import constants as C
from pybpf.sys.attrs import BtfLoadAttr, MapCreateAttr, MapElemAttr, ProgLoadAttr, TestRunAttr

SLOT = struct.Struct("<BBhi")

# helper ids (include/uapi/linux/bpf.h, ___BPF_FUNC_MAPPER order)
MAP_LOOKUP_ELEM = 1
GET_SMP_PROCESSOR_ID = 8
PERF_EVENT_OUTPUT = 25
RINGBUF_OUTPUT = 130
RINGBUF_RESERVE = 131
RINGBUF_SUBMIT = 132
RINGBUF_DISCARD = 133
LOOP = 181

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)


@dataclass
class Asm:
    """Just enough of an assembler: raw slots, labels for jumps, ld_imm64 pairs."""

    slots: list[tuple[int, int, int, int | str, int | str]] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)

    def emit(self, code: int, dst: int = 0, src: int = 0, off: int | str = 0,
             imm: int | str = 0) -> Asm:
        self.slots.append((code, dst, src, off, imm))
        return self

    def label(self, name: str) -> Asm:
        self.labels[name] = len(self.slots)
        return self

    # ALU64 / moves
    def mov(self, dst: int, imm: int) -> Asm:
        return self.emit(0xB7, dst, imm=imm)

    def mov32(self, dst: int, imm: int) -> Asm:
        return self.emit(0xB4, dst, imm=imm)

    def movr(self, dst: int, src: int) -> Asm:
        return self.emit(0xBF, dst, src)

    def add(self, dst: int, imm: int) -> Asm:
        return self.emit(0x07, dst, imm=imm)

    def addr(self, dst: int, src: int) -> Asm:
        return self.emit(0x0F, dst, src)

    def lsh(self, dst: int, imm: int) -> Asm:
        return self.emit(0x67, dst, imm=imm)

    def xor(self, dst: int, imm: int) -> Asm:
        return self.emit(0xA7, dst, imm=imm)

    # memory
    def ldx64(self, dst: int, src: int, off: int) -> Asm:
        return self.emit(0x79, dst, src, off)

    def stx64(self, dst: int, off: int, src: int) -> Asm:
        return self.emit(0x7B, dst, src, off)

    def st32(self, dst: int, off: int, imm: int) -> Asm:
        return self.emit(0x62, dst, off=off, imm=imm)

    def atomic_add64(self, dst: int, off: int, src: int) -> Asm:
        return self.emit(0xDB, dst, src, off, imm=0)

    def ld_map(self, dst: int, fd: int) -> Asm:
        self.emit(0x18, dst, 1, imm=fd)
        return self.emit(0, 0, 0, imm=0)

    def ld_func(self, dst: int, label: str) -> Asm:
        self.emit(0x18, dst, 4, imm=f"func:{label}")
        return self.emit(0, 0, 0, imm=0)

    # jumps (off may be a label)
    def jeq(self, dst: int, imm: int, to: str) -> Asm:
        return self.emit(0x15, dst, off=to, imm=imm)

    def jne(self, dst: int, imm: int, to: str) -> Asm:
        return self.emit(0x55, dst, off=to, imm=imm)

    def jgt(self, dst: int, imm: int, to: str) -> Asm:
        return self.emit(0x25, dst, off=to, imm=imm)

    def ja(self, to: str) -> Asm:
        return self.emit(0x05, off=to)

    def call(self, helper: int) -> Asm:
        return self.emit(0x85, imm=helper)

    def exit(self) -> Asm:
        return self.emit(0x95)

    def encode(self) -> bytes:
        out = bytearray()
        for i, (code, dst, src, off, imm) in enumerate(self.slots):
            if isinstance(off, str):
                off = self.labels[off] - i - 1
            if isinstance(imm, str):
                imm = self.labels[imm.removeprefix("func:")] - i - 1
            out += SLOT.pack(code, (src << 4) | dst, off, imm)
        return bytes(out)


@dataclass
class KMap:
    """Stand-in for a pybpf.maps object: `.fd`, `.max_entries`, close()."""

    fd: FD
    max_entries: int

    def close(self) -> None:
        self.fd.close()


def create_map(mtype: MapType, key_size: int, value_size: int, max_entries: int) -> KMap:
    attr = MapCreateAttr(map_type=mtype, key_size=key_size, value_size=value_size,
                         max_entries=max_entries)
    return KMap(FD(bpf(C.BPF_MAP_CREATE, attr)), max_entries)


def ringbuf(size: int) -> KMap:
    return create_map(MapType.RINGBUF, 0, 0, size)


def perf_array(entries: int) -> KMap:
    return create_map(MapType.PERF_EVENT_ARRAY, 4, 4, entries)


def counter() -> KMap:
    return create_map(MapType.ARRAY, 4, 8, 1)


def read_u64(m: KMap, index: int = 0) -> int:
    key, val = ctypes.c_uint32(index), ctypes.c_uint64()
    attr = MapElemAttr(map_fd=m.fd.fileno(), key=ctypes.addressof(key),
                       value=ctypes.addressof(val))
    bpf(C.BPF_MAP_LOOKUP_ELEM, attr)
    return val.value


def _func_btf(nfuncs: int) -> FD:
    """BTF with `nfuncs` static functions `long f(long, long)`: type 1 is long, 2 the proto,
    3.. the functions (func_info needs them when a program has callbacks, e.g. bpf_loop)."""
    strings = b"\0long\0f\0a\0b\0"
    types = struct.pack("<III", 1, 1 << 24, 8) + struct.pack("<I", (1 << 24) | 64)  # INT long
    types += struct.pack("<III", 0, (13 << 24) | 2, 1) + struct.pack("<IIII", 8, 1, 10, 1)
    for _ in range(nfuncs):
        types += struct.pack("<III", 6, 12 << 24, 2)  # FUNC "f", static, proto 2
    blob = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                       len(strings)) + types + strings
    buf = ctypes.create_string_buffer(blob, len(blob))
    return FD(bpf(C.BPF_BTF_LOAD, BtfLoadAttr(btf=ctypes.addressof(buf), btf_size=len(blob))))


def load(code: bytes, prog_type: ProgType = ProgType.RAW_TRACEPOINT,
         funcs: tuple[int, ...] = ()) -> FD:
    """Load `code`; `funcs` are the instruction indexes of subprograms (callbacks)."""
    buf = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(1 << 20)
    attr = ProgLoadAttr(prog_type=prog_type, insn_cnt=len(code) // 8,
                        insns=ctypes.addressof(buf), license=ctypes.addressof(lic),
                        log_level=1, log_size=len(log), log_buf=ctypes.addressof(log))
    if funcs:
        btf = _func_btf(1 + len(funcs))
        info = (ctypes.c_uint32 * (2 * (1 + len(funcs))))()
        for n, start in enumerate((0, *funcs)):
            info[2 * n], info[2 * n + 1] = start, 3 + n
        attr.prog_btf_fd, attr.func_info_rec_size = btf.fileno(), 8
        attr.func_info, attr.func_info_cnt = ctypes.addressof(info), 1 + len(funcs)
    try:
        return FD(bpf(C.BPF_PROG_LOAD, attr))
    except OSError as err:
        raise AssertionError(f"load failed: {err}\n{log.value.decode()[-3000:]}") from err


def run(prog: FD, *args: int, cpu: int | None = None) -> int:
    """BPF_PROG_TEST_RUN of a raw tracepoint program with u64 args; returns r0 (signed)."""
    ctx = (ctypes.c_uint64 * max(len(args), 1))(*[a & (2**64 - 1) for a in args])
    attr = TestRunAttr(prog_fd=prog.fileno(), ctx_in=ctypes.addressof(ctx),
                       ctx_size_in=ctypes.sizeof(ctx))
    if cpu is not None:
        attr.flags, attr.cpu = C.BPF_F_TEST_RUN_ON_CPU, cpu
    bpf(C.BPF_PROG_TEST_RUN, attr)
    return ctypes.c_int32(attr.retval).value


MAX_WORDS = 13  # 104 bytes of payload pattern on the stack


def payload(seq: int, size: int) -> bytes:
    """What the output programs send for (seq, size): u64 words seq*16 + i, cut to size."""
    words = struct.pack(f"<{MAX_WORDS}Q", *[(seq * 16 + i) & (2**64 - 1)
                                            for i in range(MAX_WORDS)])
    return words[:size]


def _fill_pattern(a: Asm) -> None:
    """Stack fp-104..fp-8 := words seq*16 + i, seq in r6."""
    a.movr(R8, R6).lsh(R8, 4)
    for i in range(MAX_WORDS):
        a.movr(R1, R8).add(R1, i).stx64(R10, -8 * MAX_WORDS + 8 * i, R1)


def _count_failure(a: Asm, fails: KMap) -> None:
    """fails[0] += 1 (atomic); keeps r6..r9."""
    a.st32(R10, -112, 0).ld_map(R1, fails.fd.fileno()).movr(R2, R10).add(R2, -112)
    a.call(MAP_LOOKUP_ELEM).jeq(R0, 0, "counted").mov(R1, 1).atomic_add64(R0, 0, R1)
    a.label("counted")


def ringbuf_output_prog(rb: KMap, fails: KMap) -> FD:
    """args (seq, size): bpf_ringbuf_output(rb, pattern, size, 0); a failure bumps fails[0];
    returns the helper's result."""
    a = Asm()
    a.ldx64(R6, R1, 0).ldx64(R7, R1, 8)
    _fill_pattern(a)
    a.jgt(R7, 8 * MAX_WORDS, "bad")
    a.ld_map(R1, rb.fd.fileno()).movr(R2, R10).add(R2, -8 * MAX_WORDS).movr(R3, R7).mov(R4, 0)
    a.call(RINGBUF_OUTPUT).jeq(R0, 0, "ok").movr(R9, R0)
    _count_failure(a, fails)
    a.movr(R0, R9).exit()
    a.label("ok").mov(R0, 0).exit()
    a.label("bad").mov(R0, -22).exit()
    return load(a.encode())


def ringbuf_reserve_prog(rb: KMap, fails: KMap) -> FD:
    """args (seq, discard): reserve 16 bytes, write (seq, ~seq), submit or discard."""
    a = Asm()
    a.ldx64(R6, R1, 0).ldx64(R7, R1, 8)
    a.ld_map(R1, rb.fd.fileno()).mov(R2, 16).mov(R3, 0).call(RINGBUF_RESERVE)
    a.jne(R0, 0, "got")
    _count_failure(a, fails)
    a.mov(R0, -1).exit()
    a.label("got").stx64(R0, 0, R6).movr(R1, R6).xor(R1, -1).stx64(R0, 8, R1)
    a.movr(R1, R0).mov(R2, 0).jne(R7, 0, "discard")
    a.call(RINGBUF_SUBMIT).mov(R0, 0).exit()
    a.label("discard").call(RINGBUF_DISCARD).mov(R0, 1).exit()
    return load(a.encode())


def perf_output_prog(pa: KMap, fails: KMap) -> FD:
    """args (seq, size): pattern with word 1 := current CPU, then
    bpf_perf_event_output(ctx, pa, BPF_F_CURRENT_CPU, pattern, size); failures bump fails[0]."""
    a = Asm()
    a.movr(R9, R1).ldx64(R6, R1, 0).ldx64(R7, R1, 8)
    _fill_pattern(a)
    a.call(GET_SMP_PROCESSOR_ID).stx64(R10, -8 * MAX_WORDS + 8, R0)
    a.jgt(R7, 8 * MAX_WORDS, "bad")
    a.movr(R1, R9).ld_map(R2, pa.fd.fileno()).mov32(R3, -1)  # BPF_F_CURRENT_CPU, zero-extended
    a.movr(R4, R10).add(R4, -8 * MAX_WORDS).movr(R5, R7)
    a.call(PERF_EVENT_OUTPUT).jeq(R0, 0, "ok").movr(R9, R0)
    _count_failure(a, fails)
    a.movr(R0, R9).exit()
    a.label("ok").mov(R0, 0).exit()
    a.label("bad").mov(R0, -22).exit()
    return load(a.encode())


def perf_payload(seq: int, size: int, cpu: int) -> bytes:
    p = bytearray(payload(seq, 8 * MAX_WORDS))
    p[8:16] = struct.pack("<Q", cpu)
    return bytes(p[:size])


def ringbuf_loop_prog(rb: KMap, fails: KMap, record_size: int = 32) -> FD:
    """args (count, base): bpf_loop(count) emitting `record_size`-byte records (u64 base+i,
    then a pattern) with bpf_ringbuf_output; failures bump fails[0]. Returns bpf_loop's r0."""
    a = Asm()
    a.ldx64(R6, R1, 0).ldx64(R7, R1, 8).stx64(R10, -8, R7)
    a.movr(R1, R6).ld_func(R2, "cb").movr(R3, R10).add(R3, -8).mov(R4, 0).call(LOOP).exit()
    # callback(u32 index, void *ctx): r1 = index, r2 = &base
    a.label("cb").ldx64(R6, R2, 0).addr(R6, R1)
    words = record_size // 8
    a.stx64(R10, -8 * words, R6)
    for i in range(1, words):
        a.movr(R1, R6).add(R1, i * 1000).stx64(R10, -8 * words + 8 * i, R1)
    a.ld_map(R1, rb.fd.fileno()).movr(R2, R10).add(R2, -8 * words).mov(R3, record_size)
    a.mov(R4, 0).call(RINGBUF_OUTPUT).jeq(R0, 0, "cb_ok")
    _count_failure(a, fails)
    a.label("cb_ok").mov(R0, 0).exit()
    return load(a.encode(), funcs=(a.labels["cb"],))
