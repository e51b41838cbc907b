"""Generated restricted-Python programs for the compiler: modules with one `@bpf.function`
(integer arguments, maps, control flow) or `@bpf.tracepoint` (context fields, helpers,
submit()) built from the supported subset, and mutations that put an unsupported or wrong
construct at some line (still valid Python, so that the compiler, not Python, must reject
it), or garble tokens. Same composite style as oneliner_gen (seeded, fast)."""

from __future__ import annotations

from tests.reliability import gen as st

TYPES = ["u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64"]
ARITH = ["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>"]
CMP = ["<", "<=", ">", ">=", "==", "!="]
HEADER = ("from pybpf import bpf, maps, u8, u16, u32, u64, s8, s16, s32, s64, pid, tid, comm, "
          "ktime_ns, cpu, uid\n"
          "from tests.reliability.fuzzmaps import counts, signed, pairs, structs, arr, pcpu, "
          "ring, Ev, Pair\n"
          "LIMIT = 10\nMASK = 0xFF\n\n\n")


@st.composite
def expr(draw, names: list[str], depth: int = 0, helpers: bool = False):
    kinds = ["lit", "name", "name", "const"]
    if helpers:
        kinds += ["helper"]
    if depth < 3:
        kinds += ["bin", "bin", "un", "call", "cast", "tern", "map", "map"]
    k = draw(st.sampled_from(kinds))
    sub = lambda: draw(expr(names, depth + 1, helpers))  # noqa: E731
    if k == "lit":
        return str(draw(st.one_of(st.integers(0, 20), st.sampled_from(
            [0, 1, 255, 256, 65535, 2**31, 2**32 - 1, 2**63 - 1, 2**64 - 1]))))
    if k == "name":
        return draw(st.sampled_from(names))
    if k == "const":
        return draw(st.sampled_from(["LIMIT", "MASK"]))
    if k == "helper":
        return draw(st.sampled_from(["pid()", "tid()", "uid()", "cpu()", "ktime_ns()"]))
    if k == "bin":
        return f"({sub()} {draw(st.sampled_from(ARITH))} {sub()})"
    if k == "un":
        return f"({draw(st.sampled_from(['-', '~']))}{sub()})"
    if k == "call":
        f = draw(st.sampled_from(["min", "max", "abs"]))
        return f"abs({sub()})" if f == "abs" else f"{f}({sub()}, {sub()})"
    if k == "cast":
        return f"{draw(st.sampled_from(TYPES))}({sub()})"
    if k == "tern":
        return f"({sub()} if {draw(cond(names, depth + 1, helpers))} else {sub()})"
    m = draw(st.sampled_from(["counts[{k}]", "counts.get({k}, {d})", "signed[{k}]",
                              "pairs[{k}, {k2}]", "structs[{k}].a", "structs[{k}].b",
                              "arr[{i}]", "pcpu[{k}]"]))
    return m.format(k=sub(), k2=sub(), d=sub(), i=draw(st.integers(0, 9)))


@st.composite
def cond(draw, names: list[str], depth: int = 0, helpers: bool = False):
    sub = lambda: draw(expr(names, depth + 1, helpers))  # noqa: E731
    k = draw(st.sampled_from(["cmp", "cmp", "in", "and", "not", "bare"]))
    if k == "cmp":
        return f"{sub()} {draw(st.sampled_from(CMP))} {sub()}"
    if k == "in":
        return f"{sub()} in {draw(st.sampled_from(['counts', 'structs', 'signed']))}"
    if k == "and" and depth < 3:
        op = draw(st.sampled_from(["and", "or"]))
        return (f"({draw(cond(names, depth + 1, helpers))}) {op} "
                f"({draw(cond(names, depth + 1, helpers))})")
    if k == "not":
        return f"not ({draw(cond(names, depth + 1, helpers))})"
    return sub()


@st.composite
def stmt(draw, names: list[str], ind: str, depth: int, helpers: bool, loop: bool):
    kinds = ["assign", "assign", "aug", "mapset", "mapadd", "mapdel", "structadd"]
    if depth < 2:
        kinds += ["if", "for", "while"]
    if loop:
        kinds += ["break", "continue"]
    if helpers:
        kinds += ["submit"]
    k = draw(st.sampled_from(kinds))
    e = lambda: draw(expr(names, 1, helpers))  # noqa: E731
    local = [n for n in names if n.startswith("v")]
    if k == "assign" and local:
        return [f"{ind}{draw(st.sampled_from(local))} = {e()}"]
    if k in ("assign", "aug") and local:
        op = draw(st.sampled_from(ARITH))
        return [f"{ind}{draw(st.sampled_from(local))} {op}= {e()}"]
    if k == "mapset":
        t = draw(st.sampled_from(["counts[{k}] = {v}", "signed[{k}] = {v}",
                                  "pairs[{k}, {k}] = {v}", "arr[{i}] = {v}", "pcpu[{k}] = {v}"]))
        return [ind + t.format(k=e(), v=e(), i=draw(st.integers(0, 7)))]
    if k == "mapadd":
        t = draw(st.sampled_from(["counts[{k}] += {v}", "pcpu[{k}] += {v}",
                                  "pairs[{k}, {k}] += {v}"]))
        return [ind + t.format(k=e(), v=e())]
    if k == "mapdel":
        return [f"{ind}del {draw(st.sampled_from(['counts', 'signed', 'structs']))}[{e()}]"]
    if k == "structadd":
        return [f"{ind}structs[{e()}].{draw(st.sampled_from(['a', 'b']))} += {e()}"]
    if k == "break":
        return [f"{ind}if {draw(cond(names, 1, helpers))}:", f"{ind}    break"]
    if k == "continue":
        return [f"{ind}if {draw(cond(names, 1, helpers))}:", f"{ind}    continue"]
    if k == "submit":
        return [f"{ind}ring.submit(Ev(pid=pid(), n={e()}, tag={e()}))"]
    body = lambda inner_names, in_loop: block(  # noqa: E731
        draw, inner_names, ind + "    ", depth + 1, helpers, in_loop)
    if k == "if":
        out = [f"{ind}if {draw(cond(names, 1, helpers))}:", *body(names, loop)]
        if draw(st.booleans()):
            out += [f"{ind}elif {draw(cond(names, 1, helpers))}:", *body(names, loop)]
        if draw(st.booleans()):
            out += [f"{ind}else:", *body(names, loop)]
        return out
    if k == "for":
        i = f"i{depth}"
        n = draw(st.sampled_from(["4", "LIMIT", "1", "0", "2, 9", "0, 16, 3"]))
        return [f"{ind}for {i} in range({n}):", *body([*names, i], True)]
    w = f"w{depth}"
    n = draw(st.integers(0, 40))
    return [f"{ind}{w} = 0", f"{ind}while {w} < {n}:", f"{ind}    {w} += 1",
            *body([*names, w], True)]


def block(draw, names, ind, depth, helpers, loop) -> list[str]:
    out: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        out += draw(stmt(names, ind, depth, helpers, loop))
    return out


@st.composite
def function(draw):
    """(module source, function name, kind)."""
    kind = draw(st.sampled_from(["function", "function", "function", "tracepoint"]))
    ind = "    "
    if kind == "function":
        params = [f"p{i}" for i in range(draw(st.integers(1, 4)))]
        sig = ", ".join(f"{p}: {draw(st.sampled_from(TYPES))}" for p in params)
        ret = draw(st.sampled_from(TYPES))
        head = ["@bpf.function", f"def f({sig}) -> {ret}:"]
        names = list(params)
        helpers = False
    else:
        head = ['@bpf.tracepoint("raw_syscalls:sys_enter")', "def f(ctx):"]
        names = ["ctx.id", "ctx.args[0]", "ctx.args[1]"]
        helpers = True
    decls = []
    for i in range(draw(st.integers(1, 3))):
        t = draw(st.sampled_from(TYPES))
        decls.append(f"{ind}v{i}: {t} = {draw(expr(names, 2, helpers))}")
        names.append(f"v{i}")
    body = block(draw, names, ind, 0, helpers, False)
    tail = [f"{ind}return {draw(expr(names, 1, helpers))}"] if kind == "function" else []
    return HEADER + "\n".join(head + decls + body + tail) + "\n", kind


INVALID = [
    "x = 1.5", "x = 'text'", "x = [1, 2]", "x = {1: 2}", "x = lambda: 0", "import os",
    "print(p0)", "try:\n{i}    pass\n{i}except Exception:\n{i}    pass", "while True:\n{i}    pass",
    "for j in range(p0):\n{i}    pass", "f(1)", "global LIMIT", "with open('x') as fh:\n{i}    pass",
    "yield 1", "x = undefined_name", "counts[1] = 1.5", "counts.pop(1)", "x = (1, 2)",
    "x = p0.real", "assert p0", "raise ValueError()", "x = p0 ** 2", "x = p0 / 2",
    "counts = 3", "del p0", "x = ring[0]", "x = comm()[99]", "x = arr[99]", "x = structs[1].zz",
    "x: u128 = 0", "x = u8(1, 2)", "x = min()", "x = sorted([1])", "x = 1 if p0 else 'a'",
    "for j in range(100000):\n{i}    counts[j] += 1", "x = bytes(10)", "x = p0 @ p0",
    "x = not_a_map[1]", "nonlocal x", "async def g():\n{i}    pass", "class C:\n{i}    pass",
    "x = [j for j in range(3)]", "x = *p0", "x = p0[0]", "ring.submit(1)",
    "ring.submit(Pair(a=1))", "x = Ev(zz=1)", "x = Ev(1, 2, 3, 4)", "x = LIMIT()",
    "v0: u8 = 'a'", "return 'a'", "return 1.5", "x = 1 << 99", "x = 99999999999999999999999",
    "x = -99999999999999999999999", "x = ~~~~~~~~~~~~~~~~~~~~~~~~~~~~p0", "match p0:\n{i}    case 1:\n{i}        pass",
]
GARBLE = ["(", ")", ":", "=", "+", "[", "]", ",", "if", "else", "for", "in", "range", "del",
          "counts", "p0", "v0", "u8", "0", "-", "not", ".", "return"]


@st.composite
def _mutated(draw):
    src, kind = draw(function())
    lines = src.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("def f")) + 1
    body = [i for i in range(start, len(lines)) if lines[i].strip()]
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.sampled_from(body))
        ind = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
        op = draw(st.sampled_from(["invalid", "invalid", "invalid", "garble", "delete"]))
        if op == "invalid":
            lines.insert(i, ind + draw(st.sampled_from(INVALID)).replace("{i}", ind))
        elif op == "garble":
            toks = st.TOKEN.findall(lines[i])
            if toks:
                j = draw(st.integers(0, len(toks) - 1))
                toks[j] = draw(st.sampled_from(GARBLE))
                lines[i] = ind + " ".join(toks)
        else:
            lines[i] = ind + "pass"
        body = [k for k in range(start, len(lines)) if lines[k].strip()]
    return "\n".join(lines), kind


functions = st.seeded(function())
mutated = st.seeded(_mutated())
