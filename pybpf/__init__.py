"""pybpf: eBPF from Python, with no C compiler in the loop."""
