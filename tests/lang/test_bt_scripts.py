"""bpftrace's shipped tool scripts (Debian's /usr/sbin/*.bt, never copied here) that must run
under `pybpf trace` on this kernel: each attaches, runs until SIGINT, and ends cleanly."""

import os
import signal
import subprocess
import sys
import time

import pytest

SCRIPTS = ["bashreadline", "bitesize", "cpuwalk", "execsnoop", "gethostlatency", "killsnoop",
           "naptime", "opensnoop", "tcpdrop",
           "pidpersec", "runqlat", "setuids", "ssllatency", "sslsnoop", "statsnoop",
           "syncsnoop", "syscount", "threadsnoop", "writeback"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("name", SCRIPTS)
def test_shipped_script_runs(name):
    path = f"/usr/sbin/{name}.bt"
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent (Debian's bpftrace package ships the tool scripts)")
    if os.geteuid() != 0:
        pytest.skip("needs root to load and attach programs")
    code = "import sys; from pybpf.cli import main; sys.argv[0] = 'pybpf'; sys.exit(main())"
    p = subprocess.Popen([sys.executable, "-c", code, "trace", path], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        start = time.monotonic()
        deadline = start + 60
        while time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.5)
            # a script whose probes are all missing here (threadsnoop.bt without
            # pthread_create in libpthread) runs BEGIN and waits: it holds programs only
            if _attached(p.pid) or (time.monotonic() - start > 8 and _loaded(p.pid)):
                time.sleep(1)  # BEGIN runs once every probe is attached
                break
        subprocess.run(["ls", "/"], stdout=subprocess.DEVNULL, check=False)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert out.startswith("Attaching "), out
    assert "error:" not in err and "Traceback" not in err, err


def _attached(pid: int) -> bool:
    """The process holds a perf event or BPF link (it got as far as attaching)."""
    try:
        return any("perf_event" in os.readlink(f"/proc/{pid}/fd/{fd}") or
                   "bpf_link" in os.readlink(f"/proc/{pid}/fd/{fd}")
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _loaded(pid: int) -> bool:
    """The process holds a BPF program."""
    try:
        return any("bpf-prog" in os.readlink(f"/proc/{pid}/fd/{fd}")
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False
