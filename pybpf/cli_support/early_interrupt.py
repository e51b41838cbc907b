"""Ctrl-C while the `pybpf` command starts (imports, building the parser) ends it quietly
with status 130: nothing is held in the kernel yet, and a KeyboardInterrupt traceback from
the middle of an import says nothing useful. Imported first by pybpf.cli, which hands SIGINT
back to Python (KeyboardInterrupt) once the command line is parsed: from there the commands
end on Ctrl-C by printing what they have.

A SIGINT that was ignored when the command started (a background job of a shell script, a
test runner started with `&`) is taken over too, as bpftrace does: the tools say "Hit Ctrl-C
to end", and `pybpf opensnoop & ... kill -INT $!` must end them.

When main() returns the quiet handler is back: the process is about to exit, and a Ctrl-C
then must not kill it by the signal (status -2 rather than 0 or 130). A caller that runs
main() inside its own process and wants its SIGINT back calls restore().

At interpreter exit SIGINT is ignored: Python's finalisation puts SIG_DFL back in place of
any Python handler, and a Ctrl-C in that window (a trace whose BEGIN has printed and ended)
would kill the process by the signal after its work was done."""

from __future__ import annotations

# _signal, the C module, is loaded when Python starts: the quiet handler goes in before
# `signal` (an enum module that takes a few milliseconds to import) and the rest
import _signal
from typing import Any

_inherited: Any = None  # SIGINT's disposition before install(), for restore()


def _interrupted(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _take_over() -> None:
    """The quiet handler in place of Python's own or an inherited SIG_IGN (only the main
    thread may set handlers: elsewhere nothing changes)."""
    global _inherited
    current = _signal.getsignal(_signal.SIGINT)
    if current is _signal.default_int_handler or current == _signal.SIG_IGN:
        try:
            _signal.signal(_signal.SIGINT, _interrupted)
        except ValueError:  # not the main thread
            return
        if _inherited is None:
            _inherited = current


_take_over()

import atexit  # noqa: E402 - after the handler, see above
import signal  # noqa: E402
import threading  # noqa: E402


def _ignore_while_exiting() -> None:
    # atexit runs before the signal module's finalisation, which leaves SIG_IGN alone
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def install() -> None:
    """Quiet Ctrl-C from now on (over Python's own handler or an inherited SIG_IGN, in the
    main thread; a handler of the caller's own is left alone)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _take_over()
    if signal.getsignal(signal.SIGINT) is _interrupted:
        atexit.unregister(_ignore_while_exiting)
        atexit.register(_ignore_while_exiting)


def release() -> None:
    """Ctrl-C raises KeyboardInterrupt from now on (if :func:`install` took it over)."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def restore() -> None:
    """SIGINT as it was before :func:`install` (SIG_IGN stays SIG_IGN for the caller)."""
    global _inherited
    if _inherited is not None and threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) in (_interrupted, signal.default_int_handler):
        signal.signal(signal.SIGINT, _inherited)
    _inherited = None


install()  # the handler is in; this registers the exit side too
