"""Macro constants of the headers bpftrace scripts `#include`, as built-in tables.

pybpf has no C preprocessor and reads no header files: a script's `#include <...>` selects
one of these tables (named after the header, values as the kernel defines them), and its
types come from the kernel's BTF. Values are those of the kernel's headers:
include/linux/socket.h (address families), include/linux/net.h (socket types),
include/net/tcp_states.h, include/linux/sched.h (task states),
include/uapi/linux/sched.h (clone flags, policies), include/uapi/asm-generic/fcntl.h,
include/uapi/asm-generic/errno-base.h, include/uapi/linux/in.h. tests/lang/test_uapi_constants.py
checks every value a user-space header also defines by compiling a C program against it."""

from __future__ import annotations

ADDRESS_FAMILIES = {
    "AF_UNSPEC": 0, "AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_AX25": 3, "AF_IPX": 4,
    "AF_APPLETALK": 5, "AF_NETROM": 6, "AF_BRIDGE": 7, "AF_INET6": 10, "AF_NETLINK": 16,
    "AF_PACKET": 17, "AF_VSOCK": 40, "AF_XDP": 44,
    "PF_UNSPEC": 0, "PF_UNIX": 1, "PF_LOCAL": 1, "PF_INET": 2, "PF_INET6": 10,
    "PF_NETLINK": 16, "PF_PACKET": 17,
}
SOCKET_TYPES = {
    "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_RDM": 4, "SOCK_SEQPACKET": 5,
    "SOCK_DCCP": 6, "SOCK_PACKET": 10,
}
TCP_STATES = {
    "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4,
    "TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8,
    "TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11, "TCP_NEW_SYN_RECV": 12,
}
TASK_STATES = {
    "TASK_RUNNING": 0x0, "TASK_INTERRUPTIBLE": 0x1, "TASK_UNINTERRUPTIBLE": 0x2,
    "__TASK_STOPPED": 0x4, "__TASK_TRACED": 0x8, "EXIT_DEAD": 0x10, "EXIT_ZOMBIE": 0x20,
    "TASK_PARKED": 0x40, "TASK_DEAD": 0x80, "TASK_WAKEKILL": 0x100, "TASK_WAKING": 0x200,
    "TASK_NOLOAD": 0x400, "TASK_NEW": 0x800, "TASK_KILLABLE": 0x102, "TASK_STOPPED": 0x104,
    "TASK_TRACED": 0x8, "TASK_IDLE": 0x402,
}
SCHED_UAPI = {
    "CSIGNAL": 0xFF, "CLONE_VM": 0x100, "CLONE_FS": 0x200, "CLONE_FILES": 0x400,
    "CLONE_SIGHAND": 0x800, "CLONE_PIDFD": 0x1000, "CLONE_PTRACE": 0x2000,
    "CLONE_VFORK": 0x4000, "CLONE_PARENT": 0x8000, "CLONE_THREAD": 0x10000,
    "CLONE_NEWNS": 0x20000, "CLONE_SYSVSEM": 0x40000, "CLONE_SETTLS": 0x80000,
    "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000, "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000, "CLONE_NEWNET": 0x40000000,
    "SCHED_NORMAL": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_IDLE": 5,
    "SCHED_DEADLINE": 6,
}
FCNTL = {
    "O_RDONLY": 0o0, "O_WRONLY": 0o1, "O_RDWR": 0o2, "O_CREAT": 0o100, "O_EXCL": 0o200,
    "O_NOCTTY": 0o400, "O_TRUNC": 0o1000, "O_APPEND": 0o2000, "O_NONBLOCK": 0o4000,
    "O_DIRECTORY": 0o200000, "O_NOFOLLOW": 0o400000, "O_CLOEXEC": 0o2000000,
}
ERRNO_BASE = {
    "EPERM": 1, "ENOENT": 2, "ESRCH": 3, "EINTR": 4, "EIO": 5, "ENXIO": 6, "E2BIG": 7,
    "ENOEXEC": 8, "EBADF": 9, "ECHILD": 10, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13,
    "EFAULT": 14, "EBUSY": 16, "EEXIST": 17, "ENODEV": 19, "ENOTDIR": 20, "EISDIR": 21,
    "EINVAL": 22, "ENFILE": 23, "EMFILE": 24, "ENOSPC": 28, "EPIPE": 32,
}
IN = {
    "IPPROTO_IP": 0, "IPPROTO_ICMP": 1, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17,
    "IPPROTO_IPV6": 41, "IPPROTO_ICMPV6": 58, "IPPROTO_RAW": 255,
}

# header -> the constants it gives a script. Headers whose scripts need only types (struct
# definitions, which BTF supplies) give no constants, but are known, so that an #include of
# a header pybpf knows nothing of is an error rather than silently nothing.
HEADERS: dict[str, dict[str, int]] = {
    "sys/socket.h": {**ADDRESS_FAMILIES, **SOCKET_TYPES},
    "linux/socket.h": ADDRESS_FAMILIES,
    "linux/net.h": SOCKET_TYPES,
    "net/sock.h": {**ADDRESS_FAMILIES, **SOCKET_TYPES, **TCP_STATES},
    "net/tcp_states.h": TCP_STATES,
    "linux/tcp.h": TCP_STATES,
    "net/tcp.h": TCP_STATES,
    "linux/sched.h": {**TASK_STATES, **SCHED_UAPI},
    "uapi/linux/sched.h": SCHED_UAPI,
    "linux/fcntl.h": FCNTL,
    "fcntl.h": FCNTL,
    "linux/fs.h": FCNTL,
    "errno.h": ERRNO_BASE,
    "linux/errno.h": ERRNO_BASE,
    "asm-generic/errno-base.h": ERRNO_BASE,
    "netinet/in.h": {**ADDRESS_FAMILIES, **IN},
    "linux/in.h": IN,
    "linux/in6.h": IN,
    "linux/time.h": {}, "linux/blkdev.h": {}, "linux/blk-mq.h": {}, "linux/genhd.h": {},
    "linux/bio.h": {}, "linux/oom.h": {}, "linux/mm.h": {}, "linux/nsproxy.h": {},
    "linux/pid_namespace.h": {}, "linux/skbuff.h": {}, "linux/ipv6.h": {}, "linux/ip.h": {},
    "linux/path.h": {}, "linux/dcache.h": {}, "linux/swap.h": {}, "linux/fs_struct.h": {},
    "net/inet_sock.h": {}, "net/ipv6.h": {},
}
