"""The /proc readers on captured file contents, and their rates over two readings."""

from __future__ import annotations

from pybpf.hoststats import cpustat, diskstats, kmsg, loadavg, meminfo, netdev, pidstat, snmp

STAT_1 = """cpu  100 0 50 800 50 0 0 0 0 0
cpu0 50 0 25 400 25 0 0 0 0 0
cpu1 50 0 25 400 25 0 0 0 0 0
intr 12345 0 0
ctxt 1000
btime 1700000000
processes 500
procs_running 3
procs_blocked 1
"""
STAT_2 = """cpu  300 0 50 800 50 0 0 0 0 0
cpu0 250 0 25 400 25 0 0 0 0 0
cpu1 50 0 25 500 25 0 0 0 0 0
ctxt 1500
processes 510
procs_running 2
procs_blocked 0
"""


def test_cpustat_per_cpu_and_run_queue() -> None:
    d = cpustat.delta(cpustat.parse(STAT_1), cpustat.parse(STAT_2), 2.0)
    cpu0, cpu1 = d["per_cpu"]
    assert cpu0["cpu"] == "0" and cpu0["user"] == 100.0 and cpu0["busy"] == 100.0
    assert cpu1["idle"] == 100.0 and cpu1["busy"] == 0.0
    assert d["all"]["user"] == 100.0  # all of the whole-host ticks that passed were user
    assert d["ctxt_per_s"] == 250.0 and d["forks_per_s"] == 5.0
    assert (d["running"], d["blocked"]) == (2, 0)


def test_loadavg_and_uptime() -> None:
    r = loadavg.parse("0.52 1.58 2.59 3/1004 12345\n", "57024.24 110000.0\n")
    assert (r["load1"], r["load5"], r["load15"]) == (0.52, 1.58, 2.59)
    assert (r["runnable"], r["tasks"], r["uptime_s"]) == (3, 1004, 57024.24)
    assert loadavg.parse("", "")["tasks"] == 0


def test_kmsg_keeps_warnings_and_worse_since() -> None:
    records = [
        "6,100,1000000,-;eth0: link up\n",
        "4,101,2000000,-;EXT4-fs warning: mounting unchecked fs\n SUBSYSTEM=block\n",
        "3,102,9000000,c;nvme0: I/O error, dev nvme0n1\n",
        "0,103,9500000,-,caller=T1;Kernel panic - not syncing\n",
        "garbage without a separator",
    ]
    got = kmsg.parse(records, since_s=1.5)
    assert [m["seq"] for m in got] == [101, 102, 103]
    assert got[0]["message"] == "EXT4-fs warning: mounting unchecked fs"
    assert got[1]["level_name"] == "err" and got[1]["time_s"] == 9.0
    assert got[2]["level_name"] == "emerg"
    # facility bits above the level are ignored (kernel: 0, user: 1<<3)
    assert kmsg.parse_record("12,1,5,-;user warning")["level"] == 4


def test_meminfo_and_vmstat() -> None:
    mem = meminfo.parse_meminfo("MemTotal:       2048000 kB\nMemFree:         512000 kB\n"
                                "MemAvailable:   1024000 kB\nSwapTotal: 1024 kB\n"
                                "SwapFree: 0 kB\nHugePages_Total:       0\n")
    assert mem["MemTotal"] == 2048000 and mem["HugePages_Total"] == 0
    before = meminfo.parse_vmstat("pswpin 10\npswpout 0\npgmajfault 100\n"
                                  "pgscan_direct_normal 5\npgscan_direct_movable 5\n")
    after = meminfo.parse_vmstat("pswpin 30\npswpout 0\npgmajfault 100\n"
                                 "pgscan_direct_normal 15\npgscan_direct_movable 15\n")
    s = meminfo.summary(mem, before, after, 2.0)
    assert s["total_mib"] == 2000 and s["available_mib"] == 1000 and s["used_pct"] == 50.0
    assert s["swap_used_mib"] == 1 and s["pswpin_per_s"] == 10.0
    assert s["pgscan_direct_per_s"] == 10.0  # the per-zone counters add up


def test_pidstat_names_with_parentheses_and_pid_reuse() -> None:
    line = "42 (my (odd) name) R 1 42 42 0 -1 4194304 0 0 0 0 {u} {s} 0 0 20 0 1 0 {st} 0"
    b = pidstat.parse(42, line.format(u=100, s=50, st=7))
    a = pidstat.parse(42, line.format(u=300, s=50, st=7))
    assert b is not None and a is not None and a.comm == "my (odd) name"
    rows = pidstat.delta({42: b}, {42: a}, 2.0, hz=100)
    assert rows == [{"pid": 42, "comm": "my (odd) name", "usr_pct": 100.0, "sys_pct": 0.0,
                     "cpu_pct": 100.0}]
    reused = pidstat.parse(42, line.format(u=20, s=0, st=9))
    assert pidstat.delta({42: b}, {42: reused}, 1.0, hz=100)[0]["cpu_pct"] == 20.0
    assert pidstat.parse(1, "") is None


DISK_1 = ("   8       0 sda 1000 0 8000 500 2000 0 16000 4000 0 3000 4500 0 0 0 0\n"
          "   8       1 sda1 1000 0 8000 500 2000 0 16000 4000 0 3000 4500 0 0 0 0\n"
          "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
DISK_2 = ("   8       0 sda 1000 0 8000 500 2200 0 17600 4400 1 4000 5500 0 0 0 0\n"
          "   8       1 sda1 1000 0 8000 500 2200 0 17600 4400 1 4000 5500 0 0 0 0\n"
          "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")


def test_diskstats_iostat_x() -> None:
    rows = diskstats.delta(diskstats.parse(DISK_1), diskstats.parse(DISK_2), 2.0,
                           {"sda", "loop0"})
    (sda,) = rows  # the partition is not a whole disk, loop0 did nothing
    assert sda["disk"] == "sda" and sda["w_per_s"] == 100.0 and sda["r_per_s"] == 0.0
    assert sda["wkb_per_s"] == 400.0  # 1600 sectors of 512 bytes in 2 s
    assert sda["w_await_ms"] == 2.0  # 400 ms over 200 writes
    assert sda["util_pct"] == 50.0 and sda["aqu_sz"] == 0.5


NETDEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: {lo} 100 0 0 0 0 0 0 {lo} 100 0 0 0 0 0 0
  eth0: 1000 10 {err} 3 0 0 0 0 2000 20 0 0 0 0 0 0
"""


def test_netdev_dev_and_edev() -> None:
    b = netdev.parse(NETDEV.format(lo=0, err=0))
    a = netdev.parse(NETDEV.format(lo=1024000, err=4))
    rows = netdev.delta(b, a, 2.0, {"eth0": 1000})
    assert [r["iface"] for r in rows] == ["lo", "eth0"]
    assert rows[0]["rxkb_per_s"] == 500.0 and rows[0]["ifutil_pct"] is None
    assert rows[1]["rx_errs_per_s"] == 2.0 and rows[1]["errors_per_s"] == 2.0
    assert rows[1]["ifutil_pct"] == 0.0


SNMP = """Ip: Forwarding DefaultTTL
Ip: 1 64
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 {ao} 5 0 0 7 1000 {out} {re} 0 2 0
"""


def test_snmp_tcp_and_etcp() -> None:
    b = snmp.parse(SNMP.format(ao=10, out=1000, re=5))
    a = snmp.parse(SNMP.format(ao=30, out=2000, re=25))
    assert b["Tcp"]["MaxConn"] == -1 and b["Ip"]["DefaultTTL"] == 64
    d = snmp.delta(b, a, 2.0)
    assert d["active_per_s"] == 10.0 and d["retrans_per_s"] == 10.0
    assert d["retrans"] == 20 and d["retrans_pct"] == 2.0 and d["established"] == 7


def test_pidstat_tracker_keeps_processes_that_ended() -> None:
    line = "{pid} (spin) R 1 1 1 0 -1 0 0 0 0 0 {u} 0 0 0 20 0 1 0 5 0"

    def reading(**ticks: int) -> dict[int, pidstat.Proc]:
        out = {}
        for name, u in ticks.items():
            pid = int(name[1:])
            p = pidstat.parse(pid, line.format(pid=pid, u=u))
            assert p is not None
            out[pid] = p
        return out

    t = pidstat.Tracker(reading(p7=0, p8=0))
    t.update(reading(p7=100, p8=50))
    t.update(reading(p8=150))  # 7 ended: its 100 ticks stay counted
    rows = t.rows(2.0, hz=100)
    assert [(r["pid"], r["cpu_pct"]) for r in rows] == [(8, 75.0), (7, 50.0)]
