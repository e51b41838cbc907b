"""Libraries written in pybpf's restricted Python, compiled into the programs that call them."""
