"""eBPF opcode constants, named as in include/uapi/linux/bpf.h and bpf_common.h.

An opcode byte is ``class | source | operation`` for ALU and JMP classes and
``class | size | mode`` for load and store classes
(Documentation/bpf/standardization/instruction-set.rst).
"""

# instruction classes (low 3 bits)
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_JMP32 = 0x06
BPF_ALU64 = 0x07

# source operand (bit 3) for ALU / JMP
BPF_K = 0x00
BPF_X = 0x08
# byte order for BPF_END (same bit)
BPF_TO_LE = 0x00
BPF_TO_BE = 0x08

# ALU operations (high 4 bits)
BPF_ADD = 0x00
BPF_SUB = 0x10
BPF_MUL = 0x20
BPF_DIV = 0x30
BPF_OR = 0x40
BPF_AND = 0x50
BPF_LSH = 0x60
BPF_RSH = 0x70
BPF_NEG = 0x80
BPF_MOD = 0x90
BPF_XOR = 0xA0
BPF_MOV = 0xB0
BPF_ARSH = 0xC0
BPF_END = 0xD0

# JMP operations (high 4 bits)
BPF_JA = 0x00
BPF_JEQ = 0x10
BPF_JGT = 0x20
BPF_JGE = 0x30
BPF_JSET = 0x40
BPF_JNE = 0x50
BPF_JSGT = 0x60
BPF_JSGE = 0x70
BPF_CALL = 0x80
BPF_EXIT = 0x90
BPF_JLT = 0xA0
BPF_JLE = 0xB0
BPF_JSLT = 0xC0
BPF_JSLE = 0xD0
BPF_JCOND = 0xE0

# load/store sizes (bits 3-4)
BPF_W = 0x00
BPF_H = 0x08
BPF_B = 0x10
BPF_DW = 0x18

# load/store modes (high 3 bits)
BPF_IMM = 0x00
BPF_ABS = 0x20
BPF_IND = 0x40
BPF_MEM = 0x60
BPF_MEMSX = 0x80
BPF_ATOMIC = 0xC0

# atomic operations (in imm of BPF_STX | BPF_ATOMIC)
BPF_FETCH = 0x01
BPF_XCHG = 0xE0 | BPF_FETCH
BPF_CMPXCHG = 0xF0 | BPF_FETCH
BPF_LOAD_ACQ = 0x100
BPF_STORE_REL = 0x110

# src_reg of BPF_LD | BPF_IMM | BPF_DW (ld_imm64)
BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_MAP_VALUE = 2
BPF_PSEUDO_BTF_ID = 3
BPF_PSEUDO_FUNC = 4
BPF_PSEUDO_MAP_IDX = 5
BPF_PSEUDO_MAP_IDX_VALUE = 6

# src_reg of BPF_JMP | BPF_CALL
BPF_PSEUDO_CALL = 1
BPF_PSEUDO_KFUNC_CALL = 2

# src_reg of BPF_JMP | BPF_JCOND
BPF_MAY_GOTO = 0

# off of BPF_ALU64 | BPF_MOV | BPF_X
BPF_ADDR_SPACE_CAST = 1

# The one two-slot opcode.
LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW

MAX_REG = 11  # r0..r10
R10 = 10


def BPF_CLASS(code: int) -> int:
    return code & 0x07


def BPF_SRC(code: int) -> int:
    return code & 0x08


def BPF_OP(code: int) -> int:
    return code & 0xF0


def BPF_SIZE(code: int) -> int:
    return code & 0x18


def BPF_MODE(code: int) -> int:
    return code & 0xE0


SIZE_BYTES: dict[int, int] = {BPF_B: 1, BPF_H: 2, BPF_W: 4, BPF_DW: 8}
BYTES_SIZE: dict[int, int] = {v: k for k, v in SIZE_BYTES.items()}
