"""Negative tests: each error class gives a CompileError (never a Python traceback, never an
internal compiler error) naming file:line:col, showing the source line with a caret under the
offending code, and saying what is wrong."""

from __future__ import annotations

import inspect
import os

import pytest

from pybpf.compiler.api import CompiledProgram
from pybpf.compiler.errors import CompileError, InternalCompilerError
from tests.util import requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the error cases module creates a map at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)

from tests.compiler import error_cases  # noqa: E402

FILE = inspect.getsourcefile(error_cases)
LINES = open(FILE).read().splitlines()  # noqa: SIM115


def where(snippet: str, caret_at: str) -> tuple[int, int, str]:
    """(line, column, text) of the unique source line containing `snippet`, the column being
    where `caret_at` starts on it."""
    found = [i for i, line in enumerate(LINES) if snippet in line]
    assert len(found) == 1, f"snippet {snippet!r} must occur once in error_cases.py"
    text = LINES[found[0]]
    return found[0] + 1, text.index(caret_at) + 1, text


# (function, message fragments, line snippet, where the caret points)
CASES = [
    ("err_recursion", ["recursive call of rec_a()"], "return rec_a(n)  #", "rec_a(n)"),
    ("err_unbounded_for", ["only `for i in range(N)` loops"], "for x in numbers", "numbers"),
    ("err_range_nonconst", ["range() bounds must be constants"], "for i in range(a)", "a):"),
    ("err_float", ["floating point cannot be compiled"], "return a * 1.5", "1.5"),
    ("err_maybe_unassigned", ["variable 'late' may be read before it is assigned (it is "
                              "assigned on line", "UnboundLocalError"], "return late + 1  #",
     "late"),
    ("err_assigned_in_while_only", ["variable 'last' may be read before it is assigned"],
     "return last  # <- while", "last"),
    ("err_list", ["lists cannot be compiled"], "xs = [a, a]", "[a, a]"),
    ("err_dict", ["dicts cannot be compiled"], "d = {1: a}", "{1: a}"),
    ("err_listcomp", ["list comprehensions cannot be compiled"], "xs = [i for i", "[i for"),
    ("err_lambda", ["lambdas cannot be compiled"], "f = lambda x", "lambda"),
    ("err_unknown_name", ["unknown name 'totl'", "Did you mean 'total'?"], "return totl + 1",
     "totl"),
    ("err_store_string", ["expected a u64 value, got char[6]"], 'x = "hello"', 'x = "hello"'),
    ("err_compare_strings", ["strings compare with == and != only"], 'if "abc" < "abd"',
     '"abc"'),
    ("err_div", ["operator Div cannot be compiled", "Use // for integer division."],
     "return a / b", "a / b"),
    ("err_try", ["exceptions (try/except) do not exist"], "try:  #", "try"),
    ("err_nested_def", ["nested functions cannot be compiled"], "def inner(x)", "def inner"),
    ("err_global", ["`global` cannot be compiled"], "global numbers", "global"),
    ("err_keyword_call", ["keyword arguments are only for struct constructors"],
     "return min(a, b=3)", "min("),
    ("err_print", ["print() cannot run in the kernel", "printk("], "print(a)", "print("),
    ("err_python_call", ["'plain_python' cannot be called in a compiled program"],
     "return plain_python(a)", "plain_python(a)"),
    ("err_module_call", ["'math.gcd' cannot be called in a compiled program"],
     "return math.gcd(a, 3)", "math.gcd"),
    ("err_struct_field", ["struct Rec has no field 'totl'", "Did you mean 'total'?"],
     "return r.totl", "r.totl"),
    ("err_map_struct_field", ["struct Rec has no field 'cont'", "Did you mean 'count'?"],
     "return emap[a].cont", "emap[a].cont"),
    ("err_stack", ["bytes of stack", "BPF programs have 512"], "ewide[a].count += 1", "ewide"),
    ("err_unknown_type", ["unknown type 'u24'"], 'x: "u24" = a', '"u24"'),
    ("err_while_else", ["while/else is not supported"], "while a > 0:  #", "while"),
    ("err_tp_field", ["tracepoint syscalls:sys_enter_openat has no field 'filenam'",
                      "Did you mean 'filename'?"], "return ctx.filenam", "ctx.filenam"),
    ("err_user_str_of_kernel_pointer", ["user_str() of a kernel pointer", "kernel_str(p)"],
     "s = user_str(current_task()", "current_task()"),
    ("err_kernel_str_of_user_pointer", ["kernel_str() of a user pointer", "user_str(p)"],
     "s = kernel_str(ctx.filename", "ctx.filename"),
    ("err_data_loc_as_string", ["expected a char[32] value", "str(p, 32)"],
     "e.name = ctx.filename", "ctx.filename"),
    ("err_tracepoint", ["unknown tracepoint nosuch:thing"], '@bpf.tracepoint("nosuch:thing")',
     "@bpf"),
    ("err_struct_extra_args", ["Rec", "2"], "r = Rec(a, 1, 2)", "Rec("),
    ("err_array_del", ["elements of a array map cannot be deleted"], "del earr[a & 3]",
     "earr[a & 3]"),
    ("err_literal_too_wide", ["the constant 300 does not fit in u8", "u64(x) + 300"],
     "return a + 300", "a + 300"),
]

BUGS: dict[str, str] = {}


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=BUGS[case[0]])] if case[0] in BUGS else []
        yield pytest.param(*case, id=case[0], marks=marks)


@pytest.mark.parametrize("name,messages,snippet,caret_at", list(_params()))
def test_error(name: str, messages: list[str], snippet: str, caret_at: str) -> None:
    prog = getattr(error_cases, name)
    try:
        prog.insns  # noqa: B018 - compiling is the point
    except CompileError as e:
        err = e
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{name}: a Python traceback instead of a CompileError: "
                    f"{type(e).__name__}: {e}")
    else:
        pytest.fail(f"{name}: compiled without an error")
    assert not isinstance(err, InternalCompilerError), str(err)
    assert "internal compiler error" not in str(err), str(err)
    text = str(err)
    for m in messages:
        assert m in text, f"{m!r} not in:\n{text}"
    line, col, src = where(snippet, caret_at)
    assert (err.loc.file, err.loc.line, err.loc.col) == (FILE, line, col), text
    assert text.startswith(f"{FILE}:{line}:{col}: error: "), text
    rendered = text.splitlines()
    assert "    " + src.rstrip() in rendered, f"source line missing:\n{text}"
    caret = rendered[rendered.index("    " + src.rstrip()) + 1]
    assert caret == "    " + " " * (col - 1) + "^", f"caret misplaced:\n{text}"


def test_errors_cover_every_case() -> None:
    names = {n for n, v in vars(error_cases).items() if isinstance(v, CompiledProgram)
             and not n.startswith("ok_")}
    assert names == {c[0] for c in CASES}


def test_assigned_on_every_path_compiles_and_agrees() -> None:
    """The definite-assignment rule accepts both branches of an if, a constant non-empty
    range and a `while True` left by break; kernel and Python agree."""
    prog = error_cases.ok_assigned_on_every_path
    try:
        for a in (0, 3, 4, 100):
            assert prog.run(a) == prog.py(a)
    finally:
        prog.close()


def test_compile_error_traceback_has_no_compiler_frames() -> None:
    """What a user's script shows for a CompileError: their own frames and the API's call,
    not the compiler's internals (17 frames before, 5 now for `f.run()`)."""
    import traceback

    prog = error_cases.err_print
    prog.close(maps=True)
    try:
        prog.run(1)
    except CompileError as e:
        frames = traceback.extract_tb(e.__traceback__)
    else:
        pytest.fail("compiled without an error")
    inside = [f.filename for f in frames if "/pybpf/compiler/" in f.filename and
              not f.filename.endswith("/pybpf/compiler/api.py")]
    assert not inside, inside
    assert len(frames) <= 6, [f"{f.filename}:{f.lineno}" for f in frames]
