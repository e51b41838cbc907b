"""What /proc tells the tools' user-space side: a process's name and user (for columns the
BPF side does not fill in), and the load average (biostat, oomkill). Every reader answers
with a default when the process is gone."""

from __future__ import annotations


def comm(pid: int, missing: str = "[unknown]") -> str:
    """The process's name (/proc/PID/comm), or `missing`."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return missing


def uid(pid: int) -> int:
    """The process's real user id (/proc/PID/status), or -1."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def loadavg() -> str:
    """/proc/loadavg's line ("0.52 0.58 0.59 2/1004 12345"), or ""."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return ""
