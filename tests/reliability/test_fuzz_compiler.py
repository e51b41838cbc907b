"""Bad input to the Python compiler: generated restricted-Python modules (written to files, as
the compiler reads source through inspect) and mutations of them never give a Python
traceback (every rejection is a CompileError with a position, or Python's own SyntaxError
when the mutation broke Python itself), never an internal compiler error; every 20th accepted
program is loaded, and must load (a verifier rejection is a compiler bug), and a loaded
@bpf.function gives the same result in the kernel as its Python reference.

Defaults: 2,500 generated and 2,000 mutated modules; PYBPF_FUZZ_SCALE multiplies them,
PYBPF_FUZZ_RANDOM=1 draws new ones each run."""

from __future__ import annotations

import itertools
import os
import tempfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings

from pybpf.compiler.errors import CompileError, VerifierLimitError
from tests.util import requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the generated programs' maps are created at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)

from tests.reliability import fuzzmaps  # noqa: E402
from tests.reliability.python_gen import functions, mutated  # noqa: E402

SCALE = float(os.environ.get("PYBPF_FUZZ_SCALE", "0.5"))  # 1 or more: a longer run
LOAD_EVERY = int(os.environ.get("PYBPF_FUZZ_LOAD_EVERY", "1"))
# the same programs every run (CI stays reproducible); PYBPF_FUZZ_RANDOM=1 explores new ones
SETTINGS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck),
                derandomize=not os.environ.get("PYBPF_FUZZ_RANDOM"))
_DIR = tempfile.mkdtemp(prefix="pybpf-fuzz-")
_n = itertools.count()


def known_defect(text: str) -> str | None:
    """Defects already found and not fixed yet (each kept as a minimal xfail case in
    test_fuzz_regressions.py): the fuzzer counts them apart and goes on, so that it finds the
    next one. Remove an entry when its fix lands, so that the fuzzer guards the fix."""
    return None  # none open: the fixed ones stay as regression tests


class Counter:
    compiled = 0
    python_syntax = 0
    accepted = 0
    rejected = 0
    loaded = 0
    loop_limit = 0  # refused at load: a loop's paths exceeded the verifier's limits
    ran = 0
    known: dict[str, int] = {}


def _known(text: str) -> bool:
    name = known_defect(text)
    if name is not None:
        Counter.known[name] = Counter.known.get(name, 0) + 1
    return name is not None


def build(src: str):
    """Write `src` as a module file and execute it; the decorated function `f` (None when
    Python itself rejects the text)."""
    path = os.path.join(_DIR, f"fz_{next(_n)}.py")
    with open(path, "w") as fh:
        fh.write(src)
    ns: dict = {"__name__": os.path.basename(path)[:-3], "__file__": path}
    try:
        code = compile(src, path, "exec")
    except SyntaxError as e:
        assert e.lineno is not None
        Counter.python_syntax += 1
        return None
    exec(code, ns)
    return ns["f"]


def check_module(src: str, kind: str, load_it: bool | None = None) -> str:
    fn = build(src)
    if fn is None:
        return "python-syntax"
    Counter.compiled += 1
    try:
        _ = fn.insns
    except CompileError as e:
        if _known(e.render()):
            return "known"
        assert e.loc.line >= 1 and e.loc.col >= 1, f"no position: {e.render()}\n{src}"
        assert "internal compiler error" not in e.message, f"{e.render()}\n{src}"
        Counter.rejected += 1
        return "rejected"
    except RecursionError:
        Counter.rejected += 1
        return "rejected"
    except Exception as e:
        if _known(f"{type(e).__name__}: {e}"):
            return "known"
        raise AssertionError(f"traceback ({type(e).__name__}: {e}) for\n{src}") from e
    Counter.accepted += 1
    if load_it is None:
        load_it = zlib.crc32(src.encode()) % LOAD_EVERY == 0  # the same choice when rerun
    if load_it:
        try:
            load_and_run(fn, kind, src)
        finally:
            fn.close()
    return "accepted"


def snapshot() -> list:
    """The maps' contents; per-CPU values summed (the kernel runs on any CPU)."""
    out = []
    for m in fuzzmaps.ALL:
        items = sorted(m.items())
        if m is fuzzmaps.pcpu:
            items = [(k, sum(v)) for k, v in items]
        out.append(items)
    return out


def load_and_run(fn, kind: str, src: str) -> None:
    try:
        fn.load()
    except VerifierLimitError as e:  # the paths of a loop, counted by the verifier only
        assert e.loc.line >= 1 and e.loc.col >= 1, f"no position: {e.render()}\n{src}"
        Counter.loop_limit += 1
        return
    except CompileError as e:
        if _known(e.render()):
            return
        raise AssertionError(f"accepted program rejected by the verifier:\n{src}\n"
                             f"{e.render()}") from None
    Counter.loaded += 1
    if kind != "function":
        return
    for args in ([0] * fn.nargs, [1] * fn.nargs, [-1] * fn.nargs,
                 [7, 300, 2**31, 5][:fn.nargs]):
        for m in fuzzmaps.ALL:
            m.clear()
        got = fn.run(*args)
        got_maps = snapshot()
        for m in fuzzmaps.ALL:
            m.clear()
        try:
            want = fn.py(*args)
        except AttributeError as e:
            if _known(f"{type(e).__name__}: {e}"):
                return
            raise
        want_maps = snapshot()
        for m in fuzzmaps.ALL:
            m.clear()
        if (got, got_maps) != (want, want_maps) and not _known(
                f"mismatch: kernel {got}, Python {want}\n{src}"):
            raise AssertionError(f"f{tuple(args)}: kernel {got} {got_maps}, Python {want} "
                                 f"{want_maps}\n{src}")
    Counter.ran += 1


@settings(max_examples=int(800 * SCALE), **SETTINGS)
@given(functions)
def test_generated_programs(prog) -> None:
    check_module(*prog)


@settings(max_examples=int(600 * SCALE), **SETTINGS)
@given(mutated)
def test_mutated_programs(prog) -> None:
    check_module(*prog)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\ncompiler: {Counter.compiled} compiled ({Counter.python_syntax} more rejected by "
          f"Python's parser), {Counter.accepted} accepted, {Counter.rejected} rejected, "
          f"{Counter.loaded} loaded, {Counter.loop_limit} loops refused at load, "
          f"{Counter.ran} run against Python; known defects hit: "
          f"{Counter.known}")
