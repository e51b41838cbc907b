"""USDT (user statically defined tracing) probes: the `.note.stapsdt` notes of binaries and
shared libraries (`notes`), their argument specs (`args`) and semaphores (`semaphore`).
Below `pybpf.link` (which attaches programs at them, `pybpf.link.usdt`) and the compiler
(which reads the arguments, `pybpf.compiler.usdtargs`); needs only pyelftools.

    >>> from pybpf import usdt
    >>> [p.name for p in usdt.probes("/usr/bin/python3.11")][:3]
    ['audit', 'gc__done', 'gc__start']
"""

from pybpf.usdt.args import UsdtArg, parse_arg, parse_args
from pybpf.usdt.errors import UsdtError
from pybpf.usdt.notes import UsdtProbe, find, probes, read_probes
from pybpf.usdt.semaphore import ProcessSemaphore, kernel_counts_semaphores

__all__ = ["ProcessSemaphore", "UsdtArg", "UsdtError", "UsdtProbe", "find",
           "kernel_counts_semaphores", "parse_arg", "parse_args", "probes", "read_probes"]
