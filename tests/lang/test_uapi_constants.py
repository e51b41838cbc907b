"""The constant tables a script's `#include <...>` selects (pybpf/lang/uapi_constants.py,
issue 18) hold what the real headers define: a C program that includes the system's headers
prints every constant they share with the tables, and each must be equal. Not checked here:
the kernel-internal ones no user-space header has (task states of include/linux/sched.h,
TCP_NEW_SYN_RECV of include/net/tcp_states.h)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pybpf.lang import uapi_constants as uc

# user-space header -> the tables whose constants it defines
HEADERS = {
    "sys/socket.h": (uc.ADDRESS_FAMILIES, uc.SOCKET_TYPES),
    "netinet/tcp.h": (uc.TCP_STATES,),
    "linux/sched.h": (uc.SCHED_UAPI,),
    "fcntl.h": (uc.FCNTL,),
    "errno.h": (uc.ERRNO_BASE,),
    "netinet/in.h": (uc.IN,),
}
KERNEL_ONLY = {"TCP_NEW_SYN_RECV"}


def test_tables_match_the_system_headers(tmp_path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc (.ci/run installs it)")
    names = {n: v for tables in HEADERS.values() for t in tables for n, v in t.items()
             if n not in KERNEL_ONLY}
    src = "#define _GNU_SOURCE\n#include <stdio.h>\n"
    src += "".join(f"#include <{h}>\n" for h in HEADERS)
    src += "int main(void) {\n"
    src += "".join(f'    printf("%s %lld\\n", "{n}", (long long)({n}));\n' for n in names)
    src += "    return 0;\n}\n"
    (tmp_path / "c.c").write_text(src)
    build = subprocess.run(["gcc", "-o", str(tmp_path / "c"), str(tmp_path / "c.c")],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    out = subprocess.run([str(tmp_path / "c")], capture_output=True, text=True, check=True)
    theirs = {n: int(v) for n, v in (ln.split() for ln in out.stdout.splitlines())}
    assert len(theirs) == len(names) > 100
    wrong = {n: (names[n], theirs[n]) for n in names if names[n] != theirs[n]}
    assert not wrong, f"(ours, the headers'): {wrong}"
