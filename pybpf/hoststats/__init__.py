"""What /proc and /sys say about the host, the classic first-60-seconds checklist (uptime,
dmesg, vmstat, mpstat, pidstat, iostat -x, sar -n DEV/EDEV/TCP/ETCP) without those programs:
one module per source, each with a `parse` of the file's text (tested on captured contents)
and a `read` of the live file; the rates come from two readings and the seconds between them
(`sample.Sample`)."""
