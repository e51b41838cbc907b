"""Count system calls per process in a hash map from the raw_syscalls:sys_enter tracepoint
(the kernel's samples/bpf syscall counters, at the raw level).

    sudo python examples/syscalls_per_process.py [SECONDS]
"""

from __future__ import annotations

import sys
import time

from pybpf import Program, asm, attach, maps

# key = tgid (upper half of bpf_get_current_pid_tgid); counts[key] += 1 (insert 1 if absent)
PROGRAM = """
    call bpf_get_current_pid_tgid
    r0 >>= 32
    *(u32 *)(r10 -4) = r0
    r2 = r10
    r2 += -4
    r1 = map[counts] ll
    call bpf_map_lookup_elem
    if r0 == 0 goto insert
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    goto out
insert:
    r1 = 1
    *(u64 *)(r10 -16) = r1
    r3 = r10
    r3 += -16
    r2 = r10
    r2 += -4
    r1 = map[counts] ll
    r4 = 1                        ; BPF_NOEXIST: a racing insert keeps the other's count
    call bpf_map_update_elem
out:
    r0 = 0
    exit
"""


def comm_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "[exited]"


def count_syscalls(seconds: float) -> dict[int, int]:
    """pid -> number of system calls it entered during `seconds`."""
    with maps.Hash(key="u32", value="u64", max_entries=10240, name="counts") as counts, \
            Program.load("tracepoint", asm.assemble(PROGRAM, maps={"counts": counts}),
                         name="syscount") as prog, \
            attach.tracepoint(prog, "raw_syscalls", "sys_enter"):
        time.sleep(seconds)
        return dict(counts.items())


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    result = count_syscalls(seconds)
    print(f"{'PID':>7} {'COMM':<16} {'SYSCALLS':>10}")
    for pid, n in sorted(result.items(), key=lambda kv: -kv[1])[:10]:
        print(f"{pid:>7} {comm_of(pid):<16} {n:>10}")


if __name__ == "__main__":
    main()
