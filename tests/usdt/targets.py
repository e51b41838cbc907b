"""Small C programs with USDT probes, built with gcc and <sys/sdt.h> (systemtap-sdt-dev).

`usdt_target` links `libusdtlib.so` and, once per line read from stdin, calls `fire()`:
probes with arguments in registers, in memory at a register plus an offset, in a global
(%rip-relative), constants, and of every size and sign; `lib:guarded` in the shared library
fires only while its semaphore is raised (the program counts how often it saw it raised and
prints that); `app:twice` has two sites (one inlined function, called twice: with 1 and with
the int32 argument). With a number argument it runs that many rounds and exits; otherwise
it prints "ready" at start and "done N" after each round (N: rounds in which the guarded
probe's semaphore was raised).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>

struct rec { int32_t tag; int64_t big; uint8_t small; };

volatile int64_t counter_global = -7;
extern int lib_fire(long v);

/* one probe, two sites: each reads its argument its own way */
static inline __attribute__((always_inline)) void twice(long v) {
    DTRACE_PROBE1(app, twice, v);
}

__attribute__((noinline)) void fire(int8_t c, uint16_t w, int32_t i, uint64_t u,
                                   struct rec *r, const char *s) {
    DTRACE_PROBE6(app, regs, c, w, i, u, r->tag, s);
    DTRACE_PROBE3(app, memory, r->big, r->small, r->tag);
    DTRACE_PROBE3(app, consts, 5, -3, 1000000000000LL);
    DTRACE_PROBE1(app, global, counter_global);
    DTRACE_PROBE(app, noargs);
    twice(1);
    twice(i);
}

static struct rec r = {-42, -123456789012LL, 200};

static int round_(void) {
    /* on the stack: BPF cannot fault in a page of .rodata that nothing has touched yet */
    char msg[16];
    strcpy(msg, "hello usdt");
    fire(-5, 65000, -100000, 0xfffffffffffffff0ULL, &r, msg);
    return lib_fire(77);
}

int main(int argc, char **argv) {
    char line[64];
    if (argc > 1) {  /* N rounds, no stdin: for bpftrace -c, which runs no shell */
        for (int n = atoi(argv[1]); n > 0; n--)
            round_();
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    while (fgets(line, sizeof line, stdin))
        printf("done %d\n", round_());
    return 0;
}
"""

LIB = r"""
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short lib_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));

static int raised;

int lib_fire(long v) {
    if (lib_guarded_semaphore) {
        raised++;
        DTRACE_PROBE2(lib, guarded, v, -v);
    }
    return raised;
}
"""


def sdt_header() -> str | None:
    for d in ("/usr/include/x86_64-linux-gnu/sys/sdt.h", "/usr/include/sys/sdt.h"):
        if os.path.exists(d):
            return d
    return None


def build(out: Path, opt: str) -> tuple[Path, Path]:
    """(program, library) built at optimisation `opt` ("-O0", "-O2") in `out`."""
    gcc = shutil.which("gcc")
    if gcc is None or sdt_header() is None:
        pytest.skip("needs gcc and <sys/sdt.h> (Debian: gcc, systemtap-sdt-dev)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "main.c").write_text(MAIN)
    (out / "lib.c").write_text(LIB)
    lib = out / "libusdtlib.so"
    prog = out / "usdt_target"
    subprocess.run([gcc, opt, "-g", "-fPIC", "-shared", "-o", str(lib), str(out / "lib.c")],
                   check=True)
    subprocess.run([gcc, opt, "-g", "-o", str(prog), str(out / "main.c"), f"-L{out}",
                    "-lusdtlib", f"-Wl,-rpath,{out}"], check=True)
    return prog, lib


#: what the probes of `fire` see
EXPECTED = {
    ("app", "regs"): [-5, 65000, -100000, 0xFFFFFFFFFFFFFFF0, -42],
    ("app", "memory"): [-123456789012, 200, -42],
    ("app", "consts"): [5, -3, 1000000000000],
    ("app", "global"): [-7],
    ("lib", "guarded"): [77, -77],
}


class Target:
    """A running usdt_target: `go()` runs one round and returns its "done N" count."""

    def __init__(self, prog: Path) -> None:
        self.proc = subprocess.Popen([str(prog)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"
        self.pid = self.proc.pid

    def go(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        word, n = self.proc.stdout.readline().split()
        assert word == "done"
        return int(n)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=10)

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
