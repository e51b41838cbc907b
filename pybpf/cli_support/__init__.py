"""What every long-running command shares, the tools (pybpf/tools) and the packet commands
(pybpf/netprogs) alike: ending on SIGTERM/SIGHUP as on Ctrl-C (`signals`), argument types
(`argtypes`) and the time-of-day column (`clock`). Nothing here touches the kernel."""
