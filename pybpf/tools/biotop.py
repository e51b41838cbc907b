"""biotop: block device (disk) I/O by process, top-like, refreshed every interval, as bcc's
biotop prints it. biostat is this table already (the process that started each request,
from block:block_io_start or block_rq_insert; the time from block_rq_issue to
block_rq_complete; -p in the kernel): biotop is its options and run under bcc's name, and
ends as bcc's does, with "Detaching..."."""

from __future__ import annotations

import argparse

from pybpf.tools import biostat

HELP = "block device (disk) I/O by process, top-like"
NEEDS = biostat.NEEDS
EXAMPLES = (
    ("", "block device I/O top, 1 second refresh"),
    ("-C", "don't clear the screen"),
    ("-p 181", "only trace PID 181"),
    ("5", "5 second summaries"),
    ("5 10", "5 second summaries, 10 times only"),
    ("-r 5", "show the top 5 rows only"),
)

#: the kernel side: biostat's programs and maps
build = biostat.build


def add_arguments(p: argparse.ArgumentParser) -> None:
    biostat.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    rc = biostat.run(args)
    if rc == 0 and not args.json:
        print("Detaching...", flush=True)
    return rc
