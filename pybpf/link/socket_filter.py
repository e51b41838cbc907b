"""attach.socket_filter: a 'socket_filter' program on one socket (SO_ATTACH_BPF). The
program's return value is how many bytes of each packet to keep; 0 drops the packet.
Closing the Link detaches it (SO_DETACH_BPF) unless the socket is already closed."""

from __future__ import annotations

import errno
import socket
from typing import Any

from pybpf.link._prog import prog_fd, require_type
from pybpf.link._uapi import SO_ATTACH_BPF, SO_DETACH_BPF
from pybpf.link.link import Link
from pybpf.sys import ProgType, error_from_errno


def _fileno(sock: Any) -> int:
    return sock if isinstance(sock, int) else sock.fileno()


def socket_filter(prog: Any, sock: socket.socket | int) -> Link:
    """Attach `prog` to `sock` (a socket object or fd). Keep the socket object alive while
    attached; with a bare fd the caller owns the fd's lifetime."""
    require_type(prog, {ProgType.SOCKET_FILTER}, "socket filter")
    fd = _fileno(sock)
    if fd < 0:
        raise ValueError("cannot attach a filter to a closed socket")
    s = sock if isinstance(sock, socket.socket) else socket.socket(fileno=fd)
    owned_here = s is not sock
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, prog_fd(prog))
    except OSError as e:
        raise error_from_errno(e.errno or errno.EINVAL,
                               f"setsockopt(SO_ATTACH_BPF) on socket fd {fd}") from None
    finally:
        if owned_here:
            s.detach()  # do not close the caller's fd

    def undo() -> None:
        if isinstance(sock, socket.socket):
            if sock.fileno() < 0:
                return
            target = sock
        else:
            try:
                target = socket.socket(fileno=fd)
            except OSError:
                return  # the fd is gone: nothing left to detach from
        try:
            target.setsockopt(socket.SOL_SOCKET, SO_DETACH_BPF, 0)
        except OSError as e:
            if e.errno not in (errno.EBADF, errno.ENOENT, errno.ENOTSOCK):
                raise error_from_errno(e.errno or errno.EINVAL,
                                       f"setsockopt(SO_DETACH_BPF) on socket fd {fd}") from None
        finally:
            if target is not sock:
                target.detach()

    return Link("socket_filter", f"fd {fd}", undo=undo)
