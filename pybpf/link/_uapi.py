"""UAPI numbers the link layer needs that pybpf.sys does not (yet) define."""

from __future__ import annotations

# asm-generic/socket.h
SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27  # == SO_DETACH_FILTER

# BPF_LINK_CREATE / BPF_PROG_ATTACH flags for multi-attach hooks (tcx, netkit)
BPF_F_BEFORE = 1 << 3
BPF_F_AFTER = 1 << 4
BPF_F_ID = 1 << 5
BPF_F_LINK = 1 << 13

# BPF_LINK_CREATE uprobe_multi flags
BPF_F_UPROBE_MULTI_RETURN = 1 << 0

# perf uprobe PMU: config bits 32-63 hold the reference counter (USDT semaphore) offset
PERF_UPROBE_REF_CTR_OFFSET_SHIFT = 32

# sysfs and tracefs places
PMU_DIR = "/sys/bus/event_source/devices"
CPU_ONLINE = "/sys/devices/system/cpu/online"
