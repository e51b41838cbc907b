"""A small, fast stand-in for hypothesis strategies when generating whole programs: the same
composite style (`draw(g.sampled_from(...))`), driven by a `random.Random`. Hypothesis then
supplies only the seed (`seeded(factory)`), which keeps ten thousand programs quick; failures
are minimised by `minimise()` at the token level instead of by hypothesis's shrinker."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

Gen = Callable[[random.Random], Any]


def sampled_from(items: Sequence[Any]) -> Gen:
    items = list(items)
    if not items:
        raise ValueError("sampled_from of nothing")
    return lambda rng: rng.choice(items)


def integers(lo: int, hi: int) -> Gen:
    return lambda rng: rng.randint(lo, hi)


def booleans() -> Gen:
    return lambda rng: rng.random() < 0.5


def none() -> Gen:
    return lambda rng: None


def one_of(*gens: Gen) -> Gen:
    return lambda rng: rng.choice(gens)(rng)


def lists(gen: Gen, min_size: int = 0, max_size: int = 5, unique: bool = False) -> Gen:
    def make(rng: random.Random) -> list[Any]:
        n = rng.randint(min_size, max_size)
        out: list[Any] = []
        for _ in range(n * 4):
            if len(out) == n:
                break
            v = gen(rng)
            if not unique or v not in out:
                out.append(v)
        return out

    return make


def composite(f: Callable[..., Any]) -> Callable[..., Gen]:
    def factory(*args: Any, **kw: Any) -> Gen:
        return lambda rng: f(lambda g: g(rng), *args, **kw)

    return factory


def seeded(gen: Gen) -> st.SearchStrategy[str]:
    """A hypothesis strategy: a seed, turned into a program by `gen`."""
    return st.integers(0, 2**63).map(lambda seed: gen(random.Random(seed)))


TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_$@][\w.:/-]*|0x[0-9a-fA-F]+|\d+|->|'
                   r'[<>=!&|+\-*/%^]=?|\S')


def minimise(src: str, fails: Callable[[str], bool], tokens: Callable[[str], list[str]],
             join: Callable[[list[str]], str], budget: int = 400) -> str:
    """Delta debugging: drop chunks of tokens while `fails` still holds."""
    toks = tokens(src)
    chunk = max(len(toks) // 2, 1)
    tries = 0
    while chunk >= 1 and tries < budget:
        i, changed = 0, False
        while i < len(toks) and tries < budget:
            cand = toks[:i] + toks[i + chunk:]
            tries += 1
            if cand and fails(join(cand)):
                toks, changed = cand, True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    return join(toks)
