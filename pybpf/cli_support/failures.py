"""Failures around a command rather than in it, said in one line by every command alike:
too few file descriptors (EMFILE), standard output that cannot be written (closed, a full
disk, /dev/full), a reader that went away (`| head -1`), and a tracefs this process may not
read.

The command handlers keep their own messages for what is theirs (a one-liner that does not
compile, a missing hook); they run under `escalate()`, which turns these failures into
`CommandFailure`, a BaseException that their `except` clauses let through, so that
`pybpf.cli.main` words them once (`report`). `finally` blocks still run on the way, which is
what closes the kernel objects."""

from __future__ import annotations

import errno
import io
import os
import resource  # now: importing it once the fds are gone would fail with EMFILE itself
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class OutputError(OSError):
    """A write to standard output failed (EBADF when it was closed, ENOSPC on a full disk or
    /dev/full, EIO, ...)."""


class OutputClosed(OutputError, BrokenPipeError):
    """The reader of standard output went away (EPIPE): the usual end of `| head -1`."""


class CommandFailure(BaseException):  # noqa: N818 - carries an error past `except Exception`
    """`error` ended the command for a reason of its surroundings; `main` reports it."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def _chain(e: BaseException) -> Iterator[BaseException]:
    """`e` and the errors it was raised from or while handling (a compiler error raised
    `from None` still keeps its __context__), nearest first."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen and len(seen) < 32:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def too_many_files(e: BaseException) -> int:
    """EMFILE or ENFILE when `e` (or what it came from) is out of file descriptors, else 0.
    The message is looked at too: some layers re-word an OSError into their own error."""
    for x in _chain(e):
        code = getattr(x, "errno", None)
        if code in (errno.EMFILE, errno.ENFILE):
            return code
        text = str(x)
        if os.strerror(errno.EMFILE) in text:
            return errno.EMFILE
        if os.strerror(errno.ENFILE) in text:
            return errno.ENFILE
    return 0


def _tracefs_denied(e: BaseException) -> BaseException | None:
    from pybpf.btf.tracefs import TracefsAccessError, access_error

    for x in _chain(e):
        if isinstance(x, TracefsAccessError):
            return x
    # the compiler and the link layer say "unknown tracepoint" or pass on open()'s
    # PermissionError for what they could not read: ask tracefs itself whether that is why
    text = str(e)
    filename = str(getattr(e, "filename", "") or "")
    hook = str(getattr(e, "hook", "") or "")
    if "tracepoint" in text or "tracing" in filename or "tracepoint" in hook:
        return access_error()
    return None


def classify(e: BaseException) -> BaseException | None:
    """The failure of the surroundings that `e` is (what `report` words), or None."""
    if isinstance(e, CommandFailure):
        return e.error
    for x in _chain(e):
        if isinstance(x, OutputError):
            return x
    if too_many_files(e):
        return e
    if isinstance(e, Exception):
        return _tracefs_denied(e)
    return None


@contextmanager
def escalate() -> Iterator[None]:
    """Run a command's body: failures of its surroundings leave as CommandFailure."""
    try:
        yield
    except CommandFailure:
        raise
    except Exception as e:
        failure = classify(e)
        if failure is None:
            raise
        raise CommandFailure(failure) from e


def reraise(e: BaseException) -> None:
    """In an `except` clause that would word `e` itself: raise it on as CommandFailure when it
    is a failure of the surroundings (for handlers whose body is not under `escalate`)."""
    failure = classify(e)
    if failure is not None:
        raise CommandFailure(failure) from e


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):  # stderr closed or full: nothing to tell
        pass


def _stdout_to_devnull() -> None:
    """Point fd 1 at /dev/null: what is still buffered for stdout (flushed again at exit)
    then goes nowhere, instead of failing once more as "Exception ignored ... BrokenPipeError"
    while the interpreter shuts down."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(null, 1)
    except OSError:
        pass
    finally:
        if null != 1:
            os.close(null)


def nofile_limit() -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def show(v: int) -> str:
        return "unlimited" if v == resource.RLIM_INFINITY else str(v)

    return f"{show(soft)} (hard limit {show(hard)})"


def report(failure: BaseException, command: str) -> int:
    """Say `failure` in one line on stderr as `pybpf COMMAND: ...`; the exit status."""
    prefix = f"pybpf {command}".rstrip()
    if isinstance(failure, OutputError):
        _stdout_to_devnull()
        if isinstance(failure, BrokenPipeError):
            return 0  # the reader has all it wanted: ending quietly is what `| head` expects
        _say(f"{prefix}: write error: {failure.strerror or os.strerror(failure.errno or 0)}")
        return 1
    code = too_many_files(failure)
    if code == errno.ENFILE:
        _say(f"{prefix}: the system's table of open files is full (ENFILE, sysctl fs.file-max):"
             " close files elsewhere or raise fs.file-max")
        return 1
    if code:
        _say(f"{prefix}: too many open files: the open-file limit (ulimit -n) is "
             f"{nofile_limit()}, too low for this command; raise it (for example ulimit -n "
             "4096) and run it again")
        return 1
    _say(f"{prefix}: {failure}")
    return 1


class _RawStdout(io.RawIOBase):
    """fd 1 for the TextIOWrapper of sys.stdout: a failed write raises OutputError, which
    tells a failure of standard output apart from any other OSError of the same errno (a
    bpf(2) ENOSPC, a -o FILE on a full disk)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: Any) -> int | None:
        # all of it: unbuffered (PYTHONUNBUFFERED), the TextIOWrapper writes here directly and
        # would not write again what a short write left
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            try:
                done += os.write(self._fd, view[done:])
            except BlockingIOError:
                return done or None
            except BrokenPipeError as e:
                raise OutputClosed(e.errno, e.strerror) from None
            except OSError as e:
                raise OutputError(e.errno, e.strerror) from None
        return done

    def close(self) -> None:  # fd 1 belongs to the process, not to this object
        super().close()


def _reserve_std_fds() -> set[int]:
    """Open /dev/null on each of fds 0, 1, 2 that is closed: else the first kernel object
    pybpf opens would become "standard output". fd 1 is opened read-only, so that writing
    to a stdout that was closed still fails (EBADF), as coreutils reports `>&-`."""
    reserved = set()
    for fd, flags in ((0, os.O_RDONLY), (1, os.O_RDONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            got = os.open(os.devnull, flags)
        except OSError:
            continue
        if got != fd:
            os.dup2(got, fd)
            os.close(got)
        reserved.add(fd)
    return reserved


@contextmanager
def standard_streams() -> Iterator[None]:
    """For the duration of a command: fds 0-2 open, and sys.stdout writing through
    `_RawStdout` (when it is the process's own stdout, not a test's redirection)."""
    reserved = _reserve_std_fds()
    original: TextIO | None = sys.stdout
    replaced = False
    if 1 in reserved or (original is not None and original is sys.__stdout__):
        try:
            raw = _RawStdout(1)
            # as buffered as the stdout it replaces: PYTHONUNBUFFERED (-u) writes through
            unbuffered = bool(getattr(original, "write_through", False))
            sys.stdout = io.TextIOWrapper(
                raw if unbuffered else io.BufferedWriter(raw),  # type: ignore[arg-type]
                encoding=getattr(original, "encoding", None) or "utf-8",
                errors=getattr(original, "errors", None) or "strict",
                line_buffering=bool(getattr(original, "line_buffering", False)),
                write_through=unbuffered)
            replaced = True
        except (OSError, ValueError):
            pass
    try:
        yield
    finally:
        if replaced:
            wrapper = sys.stdout
            sys.stdout = original
            try:
                wrapper.flush()
            except (OSError, ValueError):  # reported already, or nobody to tell
                pass
            try:
                wrapper.detach()  # keep fd 1 open: the TextIOWrapper would close it
            except (OSError, ValueError):
                pass


def flush_stdout() -> None:
    """Flush standard output inside the command, where a failure is reported, rather than at
    interpreter exit, where it would be "Exception ignored"."""
    out = sys.stdout
    if out is not None:
        out.flush()
