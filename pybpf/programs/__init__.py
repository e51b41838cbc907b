"""BPF programs that both the tools and the exporter run, one module per program family.
Each module builds its programs and maps into a `pybpf.session.Session` (so that importing it
creates nothing in the kernel) and returns the session with the maps to read."""
