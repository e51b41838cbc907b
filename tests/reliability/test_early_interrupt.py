"""early_interrupt in a process of the caller's own: install() takes SIGINT over (from
Python's handler or an inherited SIG_IGN), release() gives KeyboardInterrupt back, restore()
puts back what was there before install()."""

from __future__ import annotations

import signal

import pytest

from pybpf.cli_support import early_interrupt


@pytest.fixture
def saved_sigint():
    before = signal.getsignal(signal.SIGINT)
    early_interrupt._inherited = None
    yield
    signal.signal(signal.SIGINT, before)
    early_interrupt._inherited = None


@pytest.mark.parametrize("inherited", [signal.default_int_handler, signal.SIG_IGN])
def test_install_release_restore(inherited, saved_sigint) -> None:
    signal.signal(signal.SIGINT, inherited)
    early_interrupt.install()
    assert signal.getsignal(signal.SIGINT) is early_interrupt._interrupted
    with pytest.raises(SystemExit) as e:
        early_interrupt._interrupted(signal.SIGINT, None)
    assert e.value.code == 130
    early_interrupt.release()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    early_interrupt.install()
    early_interrupt.restore()
    assert signal.getsignal(signal.SIGINT) == inherited


def test_a_handler_of_the_callers_own_is_left_alone(saved_sigint) -> None:
    def mine(signum: int, frame: object) -> None:
        pass

    signal.signal(signal.SIGINT, mine)
    early_interrupt.install()
    assert signal.getsignal(signal.SIGINT) is mine
    early_interrupt.restore()
    assert signal.getsignal(signal.SIGINT) is mine


def test_exiting_ignores_sigint(saved_sigint) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    early_interrupt.install()
    early_interrupt._ignore_while_exiting()
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_a_ctrl_c_wrapped_by_python_still_ends_quietly(saved_sigint) -> None:
    """Python wraps a KeyboardInterrupt raised in __set_name__ (a dataclass being defined
    while its module is imported lazily) in a RuntimeError: the command still ends 130."""
    import argparse

    from pybpf import cli

    def command(args: argparse.Namespace) -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise RuntimeError("Error calling __set_name__") from e

    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("a real defect")

    assert cli._run(argparse.Namespace(func=command)) == 130
    with pytest.raises(RuntimeError, match="a real defect"):
        cli._run(argparse.Namespace(func=broken))
