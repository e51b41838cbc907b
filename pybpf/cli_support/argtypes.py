"""argparse types of the commands' numeric options: each turns bad text into an
ArgumentTypeError that argparse prints as one usage line (exit 2).

Values that a tool compiles into its BPF program, or hands to the kernel, are checked against
the C type they end up in (pid_t, uid_t, u32, u64, ...): a constant the compiler or ctypes
would truncate must be refused here, or `-p $((PID + 2**32))` silently traces PID."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

#: pid_t is a signed 32-bit int; 0 and the negatives are not processes (the tools also read
#: 0 as "no filter", so accepting it would trace everything)
PID_MAX = 2**31 - 1
#: uid_t is an unsigned 32-bit int, and (uid_t)-1 is "no user" (setresuid's "unchanged")
UID_MAX = 2**32 - 2
U16_MAX = 2**16 - 1
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
#: errno values a system call returns are 1..MAX_ERRNO (include/linux/err.h)
MAX_ERRNO = 4095


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def ranged(what: str, lo: int, hi: int) -> Callable[[str], int]:
    """The argparse type of an integer in lo..hi, `what` naming it in the error."""
    def parse(text: str) -> int:
        v = _integer(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}: give {lo} to {hi}")
        return v

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def positive_int(text: str) -> int:
    v = _integer(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    # nan passes `v <= 0`, and inf never ends an interval: neither is a number of seconds
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def int_list(text: str) -> list[int]:
    """"1,2,3" -> [1, 2, 3] (positive numbers only)."""
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of "
                                         "numbers") from None
    if not out or any(v <= 0 for v in out):
        raise argparse.ArgumentTypeError(f"{text!r}: give positive numbers")
    return out


def pid(text: str) -> int:
    """A process ID (pid_t, 1..2**31-1). Whether it exists is not checked: bcc's tools filter
    on a PID that may appear later."""
    v = _integer(text)
    if not 1 <= v <= PID_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a process ID: give 1 to {PID_MAX}")
    return v


def tid(text: str) -> int:
    """A thread ID (pid_t, as the kernel calls threads)."""
    v = _integer(text)
    if not 1 <= v <= PID_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a thread ID: give 1 to {PID_MAX}")
    return v


def pid_list(text: str) -> list[int]:
    """"1,2,3" -> [1, 2, 3], each a process (or thread) ID."""
    out = int_list(text)
    bad = [v for v in out if v > PID_MAX]
    if bad:
        raise argparse.ArgumentTypeError(f"{bad[0]} is not a process ID: give 1 to {PID_MAX}")
    return out


def kill_target(text: str) -> int:
    """The pid argument of kill(2): a process (> 0) or a process group (< 0), as the int the
    system call takes. 0 (the caller's own group) is refused: the tools read it as "no
    filter"."""
    v = _integer(text)
    if not -2**31 <= v <= PID_MAX or v == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a target PID: give 1 to {PID_MAX}, "
                                         f"or -1 to {-2**31} for process groups")
    return v


def user(text: str) -> int:
    """A user: a name from the password database, or a number (uid_t, 0..2**32-2)."""
    try:
        v = int(text)
    except ValueError:
        import pwd

        try:
            return pwd.getpwnam(text).pw_uid
        except KeyError:
            raise argparse.ArgumentTypeError(f"no such user {text!r}") from None
    if not 0 <= v <= UID_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a user ID: give 0 to {UID_MAX}, "
                                         "or a user name")
    return v


def _possible_cpus() -> int:
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read()
    except OSError:
        import os

        return os.cpu_count() or 1
    highest = 0
    for part in text.strip().split(","):
        lo, _, hi = part.partition("-")
        highest = max(highest, int(hi or lo))
    return highest + 1


def cpu(text: str) -> int:
    """A CPU number of this machine (0 .. possible CPUs - 1)."""
    v = _integer(text)
    n = _possible_cpus()
    if not 0 <= v < n:
        raise argparse.ArgumentTypeError(f"{text!r} is not a CPU of this machine: give 0 to "
                                         f"{n - 1}")
    return v


def errno_value(text: str) -> int:
    """An errno number (1..4095) or name (ENOENT)."""
    if text.lstrip("-").isdigit():
        v = int(text)
        if not 1 <= v <= MAX_ERRNO:
            raise argparse.ArgumentTypeError(f"{text!r} is not an errno: give 1 to "
                                             f"{MAX_ERRNO}, or a name such as ENOENT")
        return v
    import errno

    value = errno.__dict__.get(text.upper())
    if not isinstance(value, int) or not text.upper().startswith("E"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an errno name or number")
    return value


def signal_number(text: str) -> int:
    """A signal: a number (1..SIGRTMAX) or a name, with or without SIG ("9", "KILL",
    "SIGKILL")."""
    import signal

    if text.lstrip("-").isdigit():
        v = int(text)
        # 0 is kill(2)'s "does it exist" probe, not a signal (and reads as "no filter")
        if not 1 <= v <= signal.SIGRTMAX:
            raise argparse.ArgumentTypeError(f"{text!r} is not a signal: give 1 to "
                                             f"{int(signal.SIGRTMAX)}, or a name")
        return v
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a signal name or number") from None


def port_list(text: str) -> set[int]:
    """"80,443" -> {80, 443}: TCP ports, u16 (0 too: a socket not yet bound has local port 0,
    which tcpstates -L 0 shows)."""
    try:
        out = {int(p) for p in text.split(",") if p.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated port numbers") \
            from None
    bad = sorted(p for p in out if not 0 <= p <= U16_MAX)
    if not out or bad:
        raise argparse.ArgumentTypeError(f"{bad[0] if bad else text!r} is not a port: give "
                                         f"0 to {U16_MAX}")
    return out


#: the sizes kernel objects take: map max_entries are u32
map_entries = ranged("a number of map entries (u32)", 1, U32_MAX)


def open_flag(text: str) -> int:
    """An open(2) flag by name (O_WRONLY, O_CREAT, ...), as the bit it is. O_RDONLY is 0,
    which no flags test can match: refused rather than tracing nothing."""
    import os

    value = getattr(os, text, None) if text.startswith("O_") else None
    if not isinstance(value, int):
        raise argparse.ArgumentTypeError(f"{text!r} is not an open() flag: give a name such "
                                         "as O_WRONLY, O_RDWR or O_CREAT")
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text} is 0 and matches no flags test: the opens "
                                         "that are neither O_WRONLY nor O_RDWR are O_RDONLY")
    return value


def buffer_pages(text: str) -> int:
    """A ring buffer size in pages: a power of two (the kernel's rule for BPF ring buffers),
    at most 2**20 pages."""
    v = _integer(text)
    if not 1 <= v <= 1 << 20 or v & (v - 1):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of pages: give a power of "
                                         "two, 1 to 1048576")
    return v
