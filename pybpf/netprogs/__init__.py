"""Ready packet programs and their user-space sides: `pybpf xdp-filter`, `pybpf xdp-stats`
and `pybpf pktcount` (see pybpf/cli_net.py).

Each module builds its BPF program inside a function (so importing creates no kernel object),
owns the maps and the attachment in one object with `close()`, and runs an interval loop that
ends cleanly on SIGINT and SIGTERM, detaching the program from the interface."""
