"""The "examples:" section that ends each tool's -h, as bcc's tools end theirs: a few command
lines with what they do. Kept apart from the tools so that their modules stay about tracing
(a tool module may carry its own EXAMPLES instead); tests check that every tool has some and
that each line parses with the tool's options."""

from __future__ import annotations

EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "execsnoop": (
        ("", "trace all exec() syscalls"),
        ("-x", "include failed exec()s"),
        ("-T", "include time (HH:MM:SS)"),
        ("-P 181", "only trace new processes whose parent PID is 181"),
        ("-U", "include UID"),
        ("-u 1000", "only trace UID 1000"),
        ("-u root", "only trace the user root (a name or a UID)"),
        ("-t", "include timestamps"),
        ("-q", 'add "quotemarks" around arguments'),
        ("-n main", 'only print command lines containing "main"'),
        ("-l tpkg", 'only print commands whose arguments contain "tpkg"'),
        ("--json", "one JSON object per exec()"),
    ),
    "exitsnoop": (
        ("", "trace all process termination"),
        ("-x", "trace only fails, exclude exit(0)"),
        ("-t", "include timestamp (local time)"),
        ("--utc", "include timestamp in UTC"),
        ("-p 181", "only trace PID 181"),
        ("--label=exit", "label each output line with 'exit'"),
        ("--per-thread", "trace per thread termination"),
    ),
    "opensnoop": (
        ("", "trace all open() syscalls"),
        ("-T", "include timestamps"),
        ("-U", "include UID"),
        ("-x", "only show failed opens"),
        ("-p 181", "only trace PID 181"),
        ("-t 123", "only trace TID 123"),
        ("-u 1000", "only trace UID 1000"),
        ("-d 10", "trace for 10 seconds only"),
        ("-n main", 'only print process names containing "main"'),
        ("-e", "show extended fields"),
        ("-f O_WRONLY -f O_RDWR", "only print calls for writing"),
        ("-F", "show full path for an open file with relative path"),
        ("-b 256", "a ring buffer of 256 pages, for bursts of opens"),
    ),
    "syscount": (
        ("", "count syscalls until Ctrl-C"),
        ("-p 181", "only trace PID 181"),
        ("-t 123", "only trace TID 123"),
        ("-i 1", "print a summary every second"),
        ("-d 10", "trace for 10 seconds only"),
        ("-x", "count only failed syscalls"),
        ("-e ENOENT", "count only syscalls that failed with ENOENT"),
        ("-L", "include latency of each syscall"),
        ("-P", "count by process, not by syscall"),
        ("--syscall openat", "count only openat()"),
        ("-l", "list the syscall names it knows"),
    ),
    "biolatency": (
        ("", "summarize block I/O latency as a histogram"),
        ("1 10", "print 1 second summaries, 10 times"),
        ("-mT 1", "1s summaries, milliseconds, and timestamps"),
        ("-Q", "include OS queued time in I/O time"),
        ("-D", "show each disk device separately"),
        ("-F", "show I/O flags separately"),
        ("-j", "one JSON object per histogram"),
        ("-e", "show extension summary (total, average)"),
        ("-d sda", "trace sda only"),
    ),
    "biosnoop": (
        ("", "trace all block device I/O"),
        ("-Q", "include OS queued time"),
        ("-d sda", "trace sda only"),
        ("-P", "show whether each I/O is sequential or random"),
    ),
    "bitesize": (
        ("", "block I/O sizes per process as histograms, until Ctrl-C"),
        ("--duration 10", "trace for 10 seconds only"),
    ),
    "runqlat": (
        ("", "summarize run queue latency as a histogram"),
        ("1 10", "print 1 second summaries, 10 times"),
        ("-mT 1", "1s summaries, milliseconds, and timestamps"),
        ("-P", "show each PID separately"),
        ("-L", "show each TID separately"),
        ("-p 185", "trace PID 185 only"),
    ),
    "offcputime": (
        ("", "trace off-CPU stack time until Ctrl-C"),
        ("5", "trace for 5 seconds only"),
        ("-f 5", "5 seconds, and output in folded format"),
        ("-m 1000", "trace only events that last more than 1000 usec"),
        ("-M 10000", "trace only events that last less than 10000 usec"),
        ("-p 185", "only trace threads for PID 185"),
        ("-t 188", "only trace thread 188"),
        ("-u", "only trace user threads (no kernel)"),
        ("-k", "only trace kernel threads (no user)"),
        ("-U", "only show user space stacks (no kernel)"),
        ("-K", "only show kernel space stacks (no user)"),
        ("--svg off.svg 5", "5 seconds, and a flame graph in off.svg"),
    ),
    "profile": (
        ("", "profile stack traces at 49 Hertz until Ctrl-C"),
        ("-F 99", "profile stack traces at 99 Hertz"),
        ("-c 1000000", "profile stack traces every 1 in a million events"),
        ("5", "profile at 49 Hertz for 5 seconds only"),
        ("-f 5", "output in folded format for flame graphs"),
        ("-p 185", "only profile process with PID 185"),
        ("-L 185", "only profile thread with TID 185"),
        ("-U", "only show user space stacks (no kernel)"),
        ("-K", "only show kernel space stacks (no user)"),
        ("-C 0", "only profile CPU 0"),
        ("--svg cpu.svg 5", "5 seconds, and a flame graph in cpu.svg"),
    ),
    "tcplife": (
        ("", "trace all TCP connect()s"),
        ("-t", "include time column (HH:MM:SS)"),
        ("-w", "wider columns (fit IPv6)"),
        ("-stT", "csv output, with times & timestamps"),
        ("-p 181", "only trace PID 181"),
        ("-L 80", "only trace local port 80"),
        ("-L 80,81", "only trace local ports 80 and 81"),
        ("-D 80", "only trace remote port 80"),
        ("-4", "only trace IPv4 family"),
        ("-6", "only trace IPv6 family"),
        ("-T --json", "one JSON object per session, with its time"),
    ),
    "tcptracer": (
        ("", "trace all TCP connect/accept/close events"),
        ("-t", "include timestamps"),
        ("-p 181", "only trace PID 181"),
        ("-4", "only trace IPv4 family"),
        ("-6", "only trace IPv6 family"),
        ("-v", "long event type names"),
    ),
    "statsnoop": (
        ("", "trace all stat() syscalls"),
        ("-t", "include timestamps"),
        ("-x", "only show failed stats"),
        ("-p 181", "only trace PID 181"),
        ("-s", "show the syscall name"),
    ),
    "killsnoop": (
        ("", "trace all kill() signals"),
        ("-x", "only show failed kills"),
        ("-p 181", "only trace PID 181 (the sender)"),
        ("-T 189", "only trace target PID 189"),
        ("-s 9", "only trace signal 9"),
        ("-s SIGTERM", "only trace SIGTERM"),
    ),
    "sigsnoop": (
        ("", "trace all signals sent"),
        ("-x", "only show signals that failed"),
        ("-k", "only trace signals sent by kill()"),
        ("-p 181", "only trace signals sent by PID 181"),
        ("-s 9", "only trace signal 9"),
        ("-n", "show signal names, not numbers"),
    ),
    "mountsnoop": (
        ("", "trace mount() and umount() syscalls"),
        ("-t", "include timestamps"),
        ("-p 181", "only trace PID 181"),
    ),
    "cpudist": (
        ("", "summarize on-CPU time as a histogram"),
        ("-O", "summarize off-CPU time as a histogram"),
        ("1 10", "print 1 second summaries, 10 times"),
        ("-mT 1", "1s summaries, milliseconds, and timestamps"),
        ("-P", "show each PID separately"),
        ("-p 185", "trace PID 185 only"),
        ("-I", "include CPU idle time"),
        ("-e", "show extension summary (average, total)"),
    ),
    "runqlen": (
        ("", "summarize run queue length as a histogram"),
        ("1 10", "print 1 second summaries, 10 times"),
        ("-T 1", "1s summaries and timestamps"),
        ("-O", "report run queue occupancy"),
        ("-C", "show each CPU separately"),
    ),
    "softirqs": (
        ("", "sum soft irq event time"),
        ("-d", "show soft irq event time as histograms"),
        ("1 10", "print 1 second summaries, 10 times"),
        ("-NT 1", "1s summaries, nanoseconds, and timestamps"),
        ("-c 1", "sum soft irq event time on CPU 1 only"),
        ("-C", "show the number of soft irq events"),
    ),
    "hardirqs": (
        ("", "sum hard irq event time"),
        ("-d", "show hard irq event time as histograms"),
        ("1 10", "print 1 second summaries, 10 times"),
        ("-NT 1", "1s summaries, nanoseconds, and timestamps"),
        ("-c 1", "sum hard irq event time on CPU 1 only"),
        ("-C", "show event counts instead of timing"),
    ),
    "tcpstates": (
        ("", "trace all TCP state changes"),
        ("-t", "include timestamp column"),
        ("-T", "include time column (HH:MM:SS)"),
        ("-w", "wider columns (fit IPv6)"),
        ("-stT", "csv output, with times & timestamps"),
        ("-L 80", "only trace local port 80"),
        ("-D 80", "only trace remote port 80"),
        ("-4", "only trace IPv4 family"),
    ),
    "tcpconnect": (
        ("", "trace all TCP connect()s"),
        ("-t", "include timestamps"),
        ("-p 181", "only trace PID 181"),
        ("-P 80", "only trace port 80"),
        ("-P 80,81", "only trace ports 80 and 81"),
        ("-4", "only trace IPv4 family"),
        ("-6", "only trace IPv6 family"),
        ("-U", "include UID"),
        ("-u 1000", "only trace UID 1000"),
        ("-c", "count connects per src ip and dest ip/port"),
        ("-L", "include LPORT while printing outputs"),
    ),
    "tcpaccept": (
        ("", "trace all TCP accept()s"),
        ("-t", "include timestamps"),
        ("-T", "include time column (HH:MM:SS)"),
        ("-P 80,81", "only trace ports 80 and 81"),
        ("-p 181", "only trace PID 181"),
        ("-4", "only trace IPv4 family"),
    ),
    "tcpretrans": (
        ("", "trace TCP retransmits"),
        ("-s", "display TCP sequence numbers"),
        ("-l", "include TLP attempts (needs kprobes)"),
        ("-c", "count retransmits per flow"),
        ("-4", "trace IPv4 family only"),
        ("-6", "trace IPv6 family only"),
    ),
    "oomkill": (
        ("", "trace OOM killer invocations until Ctrl-C"),
        ("--json", "one JSON object per kill"),
    ),
    "drsnoop": (
        ("", "trace all direct reclaim"),
        ("-T", "include timestamps"),
        ("-U", "include UID"),
        ("-p 181", "only trace PID 181"),
        ("-t 123", "only trace TID 123"),
        ("-u 1000", "only trace UID 1000"),
        ("-d 10", "trace for 10 seconds only"),
        ("-n main", 'only print process names containing "main"'),
    ),
    "funclatency": (
        ("do_sys_open", "time the do_sys_open() kernel function"),
        ("-u vfs_read", "time vfs_read(), in microseconds"),
        ("-m do_nanosleep", "time do_nanosleep(), in milliseconds"),
        ("-i 2 -d 10 vfs_fstat", "output every 2 seconds, for 10 seconds"),
        ("-p 181 vfs_read", "time vfs_read() for PID 181 only"),
        ("'vfs_fstat*'", "time both vfs_fstat() and vfs_fstatat()"),
        ("-F 'vfs_r*'", "show one histogram per matched function"),
    ),
    "bashreadline": (
        ("", "print the commands typed into bash"),
        ("-s /lib/libreadline.so", "when bash reads lines through this library"),
    ),
    "biostat": (
        ("", "block I/O per process and disk, every second"),
        ("5 3", "5 second summaries, 3 times"),
        ("-C", "don't clear the screen"),
        ("-p 181", "only trace PID 181"),
    ),
    "filelife": (
        ("", "trace the lifespan of short-lived files"),
        ("-p 181", "only trace PID 181"),
    ),
    "pythongc": (
        ("185", "trace the garbage collections of Python process 185"),
        ("-m 185", "times in milliseconds"),
        ("-M 10 185", "only collections longer than 10 ms"),
        ("-F gen 185", 'only collections whose description contains "gen"'),
    ),
    "vfsstat": (
        ("", "print VFS calls per second, every second"),
        ("5 3", "5 second summaries, 3 times"),
    ),
}


def examples(tool: str) -> tuple[tuple[str, str], ...]:
    """(arguments, what they do) for `tool`: from the table above, or a tool module's own
    EXAMPLES of that shape."""
    from pybpf import tools

    return EXAMPLES.get(tool) or tuple(getattr(tools.load(tool), "EXAMPLES", ()))


def epilog(tool: str) -> str | None:
    """The "examples:" text for `tool`'s -h (argparse prints it as written)."""
    lines = examples(tool)
    if not lines:
        return None
    commands = [f"pybpf {tool} {args}".rstrip() for args, _ in lines]
    width = max(len(c) for c in commands) + 2
    body = "\n".join(f"    {c:<{width}}# {what}" for c, (_, what) in zip(commands, lines, strict=True))
    return "examples:\n" + body
