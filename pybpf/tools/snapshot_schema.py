"""The JSON of `pybpf snapshot --json`: one object, this schema. The text report and the HTML
page show the same object. Rates are per second over the interval; percentages are 0-100.
Every list of rows is ranked by its section's measure and cut at `top` rows, with `more` the
number left off: {"rows": [...], "more": N}.

schema "pybpf.snapshot", version 1:
  host, kernel, started (ISO 8601), duration (s), cpus, top
  summary: [{severity: critical|warning|note, section, title, evidence}]  (worst first)
  host_stats (from /proc and /sys, two readings `interval_s` apart):
    load: {load1, load5, load15, runnable, tasks, uptime_s}
    cpu: {all: {user, nice, system, idle, iowait, irq, softirq, steal, busy} (%),
          per_cpu: [{cpu, ...the same}], ctxt_per_s, forks_per_s, running, blocked}
    memory: {total_mib, free_mib, available_mib, buffers_mib, cached_mib, used_pct,
             swap_total_mib, swap_used_mib, dirty_mib, pswpin_per_s, pswpout_per_s,
             pgmajfault_per_s, pgscan_direct_per_s, pgscan_kswapd_per_s, oom_kill_per_s}
    processes_cpu: rows [{pid, comm, usr_pct, sys_pct, cpu_pct}] (% of one CPU), busiest first
    disks: [{disk, r_per_s, w_per_s, rkb_per_s, wkb_per_s, r_await_ms, w_await_ms, aqu_sz,
             util_pct}] (whole disks that did I/O)
    interfaces: [{iface, rxpck_per_s, txpck_per_s, rxkb_per_s, txkb_per_s, ifutil_pct|null,
                  rx_errs_per_s, tx_errs_per_s, tx_colls_per_s, rx_drop_per_s, tx_drop_per_s,
                  rx_fifo_per_s, tx_fifo_per_s, rx_frame_per_s, tx_carrier_per_s,
                  errors_per_s}]
    tcp: {active_per_s, passive_per_s, iseg_per_s, oseg_per_s, atmptf_per_s, estres_per_s,
          retrans_per_s, isegerr_per_s, orsts_per_s, retrans, oseg, retrans_pct, established}
    kernel_messages: rows [{level, level_name, seq, time_s (since boot), message}] of level
                     warning or worse since `since_uptime_s`, the latest last
  on_cpu (BPF, perf cpu-clock sampling): {frequency_hz, samples,
          by_process: rows [{pid, comm, samples, cpu_pct}], stacks: rows [{stack, samples}]}
  syscalls: {total (exact), per_second, by_syscall: rows [{syscall, count}],
             by_process: rows [{pid, comm, count, top: [{syscall, count}]}],
             not_attributed (calls of processes the per-process map had no room for)}
  processes: {execs, exec_failures, by_command: rows [{comm, count, first_s, last_s, pids,
              args}], recent: [{time_s, comm, pid, ppid, args}], exits, exits_nonzero,
              exits_nonzero_by_command: rows [{comm, description, count}]}
              (times: seconds since the snapshot started, from the kernel's timestamps)
  files: {opens, errors, rows [{path, comm, opens, errors}]}
  block_io: [{disk, count, avg_usecs, hist}]   hist: {unit, buckets: [{low, high, count}]}
  runqueue: hist
  tcp: {opened, closed, endpoints: rows [{direction: connect|accept, comm, addr, port,
        sessions, tx_bytes, rx_bytes, avg_ms, max_ms, pids}], largest_sessions: rows [{pid,
        comm, ip, laddr, lport, raddr, rport, tx_kb, rx_kb, tx_bytes, rx_bytes, ms, active}],
        retransmits, retransmit_targets: rows [{daddr, dport, count}]}
  signals: {count, rows [{signal, sender, target, count}]}
  oom_kills: [{pid, uid, comm}]
  losses: [{section, what, count, reason}]: records and map inserts the kernel refused
"""

NAME = "pybpf.snapshot"
VERSION = 1
