"""Hypothesis strategies for bpftrace-style one-liners: programs built from the grammar that
pybpf trace accepts (probes with their own args fields, predicates, maps with every
aggregation, variables, control flow, printf with matching arguments), and mutations of
them (deleted, duplicated, swapped and foreign tokens, truncation). Written in hypothesis's
composite style on `gen` (a seeded random stand-in: fast enough for thousands of programs)."""

from __future__ import annotations

from tests.reliability import gen as st
from tests.reliability.gen import TOKEN
from tests.util import LIBC

# probe -> (int fields, string expressions available there)
PROBES: dict[str, tuple[list[str], list[str]]] = {
    "BEGIN": ([], []),
    "END": ([], []),
    "interval:ms:100": ([], []),
    "profile:hz:99": ([], []),
    "tracepoint:syscalls:sys_enter_openat": (["args.flags", "args->dfd", "args.mode"],
                                             ["str(args.filename)", "str(args->filename, 8)"]),
    "tracepoint:syscalls:sys_exit_read": (["args.ret", "args->ret"], []),
    "tracepoint:syscalls:sys_enter_read": (["args.fd", "args.count"], []),
    "tracepoint:raw_syscalls:sys_enter": (["args.id", "args->args[0]", "args.args[1]"], []),
    "tracepoint:sched:sched_switch": (["args.prev_pid", "args.next_pid", "args.prev_prio",
                                       "args->prev_state"],
                                      ["args.prev_comm", "args->next_comm"]),
    "t:sched:sched_process_exec": (["args.pid", "args.old_pid"], []),
    f"uprobe:{LIBC}:getpid": (["arg0", "arg1"], []),
    f"uretprobe:{LIBC}:getpid": (["retval"], []),
    "software:cpu-clock:1000000": ([], []),
}
INT_BUILTINS = ["pid", "tid", "uid", "gid", "cpu", "nsecs", "elapsed", "cgroup", "rand"]
STR_BUILTINS = ["comm"]
BINOPS = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=", "<", ">", "<=", ">=",
          "&&", "||"]
CASTS = ["(uint8)", "(uint16)", "(uint32)", "(uint64)", "(int8)", "(int16)", "(int32)",
         "(int64)"]
AGGS = ["count()", "sum({e})", "avg({e})", "min({e})", "max({e})", "stats({e})", "hist({e})",
        "lhist({e}, 0, 1000, 100)"]
VARS = ["$a", "$b", "$c"]  # int variables, assigned first in every probe
SVAR = "$s"  # a string variable, assigned first in every probe
# map name -> (key kind, value kind); every program uses each map one way only
KEY_KINDS = ["none", "int", "str", "int,str", "kstack", "kstack,ustack"]
VALUE_KINDS = ["count", "sum", "avg", "min", "max", "stats", "hist", "lhist", "int", "str"]
MAPS = ["@", "@a", "@b", "@c", "@h", "@x", "@y", "@z"]
INT_MAPS = ["@i1", "@i2"]  # int values, no key: readable in expressions
ABC = '"abc"'


@st.composite
def int_expr(draw, fields: list[str], depth: int = 0):
    choices = ["lit", "builtin", "var", "map"] + (["field"] if fields else [])
    if depth < 3:
        choices += ["bin", "bin", "un", "tern", "cast", "paren"]
    kind = draw(st.sampled_from(choices))
    if kind == "lit":
        v = draw(st.one_of(st.integers(0, 300), st.sampled_from(
            [0, 1, -1, 255, 256, 65535, 2**31 - 1, 2**32, 2**63 - 1, -(2**63)])))
        return draw(st.sampled_from([str(v), hex(v) if v >= 0 else str(v)]))
    if kind == "builtin":
        return draw(st.sampled_from(INT_BUILTINS))
    if kind == "var":
        return draw(st.sampled_from(VARS))
    if kind == "map":
        return draw(st.sampled_from(INT_MAPS))
    if kind == "field":
        return draw(st.sampled_from(fields))
    if kind == "bin":
        a = draw(int_expr(fields, depth + 1))
        b = draw(int_expr(fields, depth + 1))
        return f"{a} {draw(st.sampled_from(BINOPS))} {b}"
    if kind == "un":
        return f"{draw(st.sampled_from(['-', '!', '~']))}{draw(int_expr(fields, depth + 1))}"
    if kind == "tern":
        c, a, b = (draw(int_expr(fields, depth + 1)) for _ in range(3))
        return f"{c} ? {a} : {b}"
    if kind == "cast":
        return f"{draw(st.sampled_from(CASTS))}({draw(int_expr(fields, depth + 1))})"
    return f"({draw(int_expr(fields, depth + 1))})"


@st.composite
def str_expr(draw, strs: list[str]):
    return draw(st.sampled_from([*STR_BUILTINS, *strs, '"abc"', '"x"', SVAR]))


@st.composite
def key(draw, kind: str, fields: list[str], strs: list[str]):
    if kind == "none":
        return ""
    if kind == "int":
        return f"[{draw(int_expr(fields, 2))}]"
    if kind == "str":
        return f"[{draw(str_expr(strs))}]"
    if kind == "int,str":
        return f"[{draw(int_expr(fields, 2))}, {draw(str_expr(strs))}]"
    return f"[{kind.replace(',', ', ')}]"


@st.composite
def statement(draw, maps: dict[str, tuple[str, str]], fields: list[str], strs: list[str],
              stacks: bool, depth: int = 0):
    kinds = ["agg", "agg", "agg", "assign_var", "assign_map", "printf", "incdec", "mapop"]
    if depth < 2:
        kinds += ["if", "unroll", "while"]
    kind = draw(st.sampled_from(kinds))
    e = lambda: draw(int_expr(fields))  # noqa: E731
    if kind == "agg":
        usable = [m for m, (k, _) in maps.items() if "stack" not in k or stacks]
        if not usable:
            return f"{draw(st.sampled_from(INT_MAPS))} = {e()};"
        m = draw(st.sampled_from(usable))
        kk, vk = maps[m]
        k = draw(key(kk, fields, strs))
        if vk == "int":
            rhs = e()
        elif vk == "str":
            rhs = draw(str_expr(strs))
        else:
            rhs = next(a for a in AGGS if a.startswith(vk + "(")).format(e=e())
        return f"{m}{k} = {rhs};"
    if kind == "assign_var":
        if draw(st.integers(0, 4)) == 0:
            return f"{SVAR} = {draw(str_expr(strs))};"
        v = draw(st.sampled_from(VARS))
        op = draw(st.sampled_from(["=", "=", "+=", "-=", "|=", "<<="]))
        return f"{v} {op} {e()};"
    if kind == "assign_map":
        return f"{draw(st.sampled_from(INT_MAPS))} = {e()};"
    if kind == "printf":
        args = []
        fmt = []
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.booleans()):
                args.append(draw(int_expr(fields, 1)))
                fmt.append(draw(st.sampled_from(["%d", "%u", "%x", "%5d", "%-3lu", "%llx"])))
            else:
                args.append(draw(str_expr(strs)))
                fmt.append(draw(st.sampled_from(["%s", "%-16s"])))
        text = " ".join(fmt)
        return f'printf("{text}\\n"{"".join(", " + a for a in args)});'
    if kind == "incdec":
        target = draw(st.sampled_from([*VARS, *INT_MAPS]))
        return draw(st.sampled_from([f"{target}++;", f"{target}--;", f"++{target};"]))
    if kind == "mapop":
        m = draw(st.sampled_from(MAPS))
        kk = maps[m][0]
        deletes = [f"delete({m}[1]);", f"delete({m}[pid]);"] if kk == "int" else []
        return draw(st.sampled_from([f"print({m});", f"clear({m});", f"zero({m});", *deletes,
                                     "exit();", 'time("%H:%M:%S\\n");']))
    body = lambda: " ".join(draw(st.lists(  # noqa: E731
        statement(maps, fields, strs, stacks, depth + 1), min_size=1, max_size=3)))
    if kind == "if":
        text = f"if ({e()}) {{ {body()} }}"
        if draw(st.booleans()):
            text += f" else {{ {body()} }}"
        return text
    if kind == "unroll":
        return f"unroll({draw(st.integers(1, 5))}) {{ {body()} }}"
    n = draw(st.integers(1, 20))
    i = f"$i{depth}"  # one counter per nesting level
    return f"{i} = 0; while ({i} < {n}) {{ {body()} {i}++; }}"


@st.composite
def probe(draw, maps: dict[str, tuple[str, str]]):
    specs = draw(st.lists(st.sampled_from(sorted(PROBES)), min_size=1, max_size=2, unique=True))
    # fields must exist on every spec of the probe: use those of the first only when alone
    fields, strs = PROBES[specs[0]] if len(specs) == 1 else ([], [])
    stacks = all(s.startswith(("profile", "tracepoint", "t:", "software")) for s in specs)
    pred = ""
    if draw(st.booleans()):
        pred = f" /({draw(int_expr(fields, 1))})/"
    simple = st.sampled_from(["0", "1", "7", *INT_BUILTINS, *fields])
    init = [f"{v} = {draw(simple)};" for v in VARS]
    init.append(f"{SVAR} = {draw(st.sampled_from([*STR_BUILTINS, *strs, ABC]))};")
    init += [f"{m} = {draw(simple)};" for m in INT_MAPS]
    stmts = draw(st.lists(statement(maps, fields, strs, stacks), min_size=1, max_size=4))
    return f"{', '.join(specs)}{pred} {{ {' '.join(init + stmts)} }}"


@st.composite
def program(draw):
    maps = {m: (draw(st.sampled_from(KEY_KINDS)), draw(st.sampled_from(VALUE_KINDS)))
            for m in MAPS}
    return " ".join(draw(st.lists(probe(maps), min_size=1, max_size=2)))


programs = st.seeded(program())

FOREIGN = ["{", "}", "(", ")", "[", "]", ";", ",", "/", "@", "$", "->", ".", "*", "&", "?", ":",
           '"', "'", "\\", "\n", "if", "else", "while", "unroll", "count()", "hist(", "str(",
           "(uint8)", "struct task_struct *", "args", "retval", "kstack", "BEGIN", "$1", "99999999999999999999999",
           "-9223372036854775809", "0x", "1e3", "5ms", "'a'", "/*", "*/", "//", "#", "%", "\x00",
           "tracepoint:nope:nope", "uprobe:/nonexistent:f", "kprobe:do_nanosleep", "profile:hz:0",
           "interval:s:0", "@x[1][2]", "ntop(1)", "signal(9)", "system(\"true\")", "cat(\"/x\")"]


@st.composite
def _mutated(draw):
    """A generated program with 1-4 token-level mutations."""
    text = draw(program())
    toks = TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 4))):
        if not toks:
            break
        op = draw(st.sampled_from(["delete", "dup", "swap", "insert", "replace", "truncate"]))
        i = draw(st.integers(0, len(toks) - 1))
        if op == "delete":
            del toks[i]
        elif op == "dup":
            toks.insert(i, toks[i])
        elif op == "swap":
            j = draw(st.integers(0, len(toks) - 1))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == "insert":
            toks.insert(i, draw(st.sampled_from(FOREIGN)))
        elif op == "replace":
            toks[i] = draw(st.sampled_from(FOREIGN + toks))
        else:
            toks = toks[:i]
    return " ".join(toks)


mutated = st.seeded(_mutated())
