"""Bad input to `pybpf trace`: generated and mutated one-liners never give a Python traceback
(every rejection is a CompileError with a position) and never an internal compiler error, and
every accepted program loads (a verifier rejection of accepted source is a compiler bug).

Defaults: 3,500 programs through the parser alone, then 1,000 grammar-generated and 1,000
mutated programs compiled, every 20th accepted program loaded. PYBPF_FUZZ_SCALE multiplies the counts (e.g. 10 for a long run).
Failures hypothesis finds are minimised by it; the minimal ones are kept in
`test_fuzz_regressions.py`."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.compiler.errors import CompileError
from tests.reliability.oneliner_gen import mutated, programs
from tests.util import requires_root

pytestmark = requires_root

SCALE = float(os.environ.get("PYBPF_FUZZ_SCALE", "0.5"))  # 1 or more: a longer run
LOAD_EVERY = int(os.environ.get("PYBPF_FUZZ_LOAD_EVERY", "1"))
# the same programs every run (CI stays reproducible); PYBPF_FUZZ_RANDOM=1 explores new ones
SETTINGS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck),
                derandomize=not os.environ.get("PYBPF_FUZZ_RANDOM"))


# Defects already found (each kept as a minimal xfail case in test_fuzz_regressions.py): the
# fuzzer counts them apart and goes on, so that it finds the next one.
def known_defect(exc: BaseException) -> str | None:
    return None  # none open: the fixed ones stay as regression tests


class Counter:
    parsed = 0
    compiled = 0
    accepted = 0
    rejected = 0
    loaded = 0
    loop_limit = 0  # refused at load: a loop's paths exceeded the verifier's limits
    known: dict[str, int] = {}


def _known(exc: BaseException) -> bool:
    name = known_defect(exc)
    if name is not None:
        Counter.known[name] = Counter.known.get(name, 0) + 1
    return name is not None


def check_oneliner(src: str, load_it: bool | None = None) -> str:
    """Compile `src`; return "accepted" or "rejected"; raise AssertionError on a defect."""
    from pybpf.lang.compile import Compiler

    Counter.compiled += 1
    comp = None
    try:
        comp = Compiler(src, "stdin", [])
        comp.compile()
    except CompileError as e:
        if _known(e):
            return "known"
        assert e.loc.line >= 1 and e.loc.col >= 1, \
            f"rejection without a position: {e.render()}\nsource: {src!r}"
        assert "internal compiler error" not in e.message, f"{e.render()}\nsource: {src!r}"
        Counter.rejected += 1
        return "rejected"
    except RecursionError:  # deep nesting: Python's own limit, not ours to test
        Counter.rejected += 1
        return "rejected"
    except Exception as e:
        if _known(e):
            return "known"
        raise AssertionError(f"traceback ({type(e).__name__}: {e}) for {src!r}") from e
    finally:
        if comp is not None and not comp.compiled:
            comp.close()
    try:
        Counter.accepted += 1
        if load_it is None:
            load_it = zlib.crc32(src.encode()) % LOAD_EVERY == 0  # the same choice when rerun
        if load_it:
            load_all(comp, src)
    finally:
        comp.close()
    return "accepted"


LOOP_LIMIT = "this loop is too much for the verifier"


def load_all(comp, src: str) -> None:
    from pybpf.lang import runtime

    for cp in comp.compiled:
        try:
            prog = runtime.load(cp)
        except CompileError as e:
            if e.message.startswith(LOOP_LIMIT):  # a loop's paths, counted by the verifier
                assert e.loc.line >= 1 and e.loc.col >= 1, f"no position: {e.render()}"
                Counter.loop_limit += 1
                return
            if _known(e):
                return
            raise AssertionError(f"accepted program rejected by the verifier: {src!r}\n"
                                 f"{e.render()}") from None
        prog.close()
    Counter.loaded += 1


@settings(max_examples=int(1200 * SCALE), **SETTINGS)
@given(st.one_of(programs, mutated))
def test_parser_positions(src: str) -> None:
    """The parser alone (fast): any input parses or raises LangError with a position."""
    from pybpf.lang.parser import parse

    Counter.parsed += 1
    try:
        parse(src, "stdin")
    except CompileError as e:
        assert e.loc.line >= 1 and e.loc.col >= 1, f"no position: {e.render()} for {src!r}"
    except RecursionError:
        pass


@settings(max_examples=int(400 * SCALE), **SETTINGS)
@given(programs)
def test_generated_oneliners(src: str) -> None:
    check_oneliner(src)


@settings(max_examples=int(400 * SCALE), **SETTINGS)
@given(mutated)
def test_mutated_oneliners(src: str) -> None:
    check_oneliner(src)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\none-liners: {Counter.parsed} parsed only, {Counter.compiled} compiled, {Counter.accepted} accepted, "
          f"{Counter.rejected} rejected, {Counter.loaded} loaded, {Counter.loop_limit} loops "
          f"refused at load; known defects hit: {Counter.known}")
