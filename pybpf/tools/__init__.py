"""The ready tools (`pybpf execsnoop`, `pybpf biolatency`, ...): bcc's names, options and
output layout, each a small module on the shared pieces: `runner` (run loops, columns),
`task_filter` (-p/-t/-u in BPF), `histograms` (keyed log2 histograms), `stacks` (stack
output), `sock_events` (socket records), `kfunc` (the kernel-function hook choice), and
below the tools pybpf.session, pybpf.programs, pybpf.names and pybpf.cli_support.

A tool module has `HELP` (one line), `NEEDS` (the hooks it attaches to, for `pybpf tools`:
see catalog), `add_arguments(parser)` and `run(args) -> int`, and builds its kernel side in
a function (so importing it creates nothing in the kernel). Add a name to TOOLS to make
`pybpf <name>` appear."""

from __future__ import annotations

import importlib
from types import ModuleType

TOOLS = ("execsnoop", "exitsnoop", "opensnoop", "syscount", "biolatency", "biosnoop",
         "bitesize", "runqlat", "offcputime", "profile", "tcplife", "tcptracer",
         # Tools II
         "statsnoop", "killsnoop", "sigsnoop", "mountsnoop", "cpudist", "runqlen", "softirqs",
         "hardirqs", "tcpstates", "tcpconnect", "tcpaccept",
         "tcpretrans", "oomkill", "drsnoop", "funclatency",
         "bashreadline", "biostat",
         # kernel functions (fentry/kprobes)
         "filelife", "vfsstat",
         # Python programs (CPython's USDT probes)
         "pythongc",
         # Tools III (issue 24)
         "threadsnoop", "gethostlatency", "pidpersec", "wqlat", "compactsnoop", "tcpdrop",
         "tcprtt", "funccount", "stackcount", "biopattern", "biotop")
# tool name -> module, where they differ (pybpf.tools.tcpstates is the shared BPF side)
MODULES = {"tcpstates": "tcpstates_tool"}


def load(name: str) -> ModuleType:
    return importlib.import_module(f"pybpf.tools.{MODULES.get(name, name)}")
