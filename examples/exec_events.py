"""Stream exec events through a ring buffer (sched:sched_process_exec), at the raw level:
reserve a record in the kernel, fill it, submit it; read batches in Python.

    sudo python examples/exec_events.py [SECONDS]
"""

from __future__ import annotations

import ctypes
import sys
import time
from collections.abc import Iterator

from pybpf import Program, asm, attach, maps


class ExecEvent(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("uid", ctypes.c_uint32),
                ("comm", ctypes.c_char * 16)]


PROGRAM = f"""
    r1 = map[events] ll
    r2 = {ctypes.sizeof(ExecEvent)}
    r3 = 0
    call bpf_ringbuf_reserve
    if r0 == 0 goto out           ; ring full: the event is dropped
    r6 = r0
    call bpf_get_current_pid_tgid
    r0 >>= 32
    *(u32 *)(r6 +{ExecEvent.pid.offset}) = r0
    call bpf_get_current_uid_gid
    *(u32 *)(r6 +{ExecEvent.uid.offset}) = r0
    r1 = r6
    r1 += {ExecEvent.comm.offset}
    r2 = 16
    call bpf_get_current_comm
    r1 = r6
    r2 = 0
    call bpf_ringbuf_submit
out:
    r0 = 0
    exit
"""


def exec_events(seconds: float) -> Iterator[ExecEvent]:
    """Yield exec events for `seconds`."""
    with maps.RingBuf(64 * 1024, name="events") as events, \
            Program.load("tracepoint", asm.assemble(PROGRAM, maps={"events": events}),
                         name="execsnoop") as prog, \
            attach.tracepoint(prog, "sched", "sched_process_exec"):
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            for record in events.poll(timeout_ms=int(min(left, 0.2) * 1000)):
                yield ExecEvent.from_buffer_copy(record)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"{'PID':>7} {'UID':>6} COMM")
    for ev in exec_events(seconds):
        print(f"{ev.pid:>7} {ev.uid:>6} {ev.comm.decode(errors='replace')}", flush=True)


if __name__ == "__main__":
    main()
