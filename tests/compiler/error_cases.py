# ruff: noqa: F821, F841, UP037  (compiler forms: `buf: "u64[24]"`; deliberate errors)
"""Programs the compiler must reject, one per error class (used by test_errors.py).

Each function's body holds the offending construct on a line marked `# <-` so that the test
can compute the position the diagnostic must point at."""

from __future__ import annotations

import math

from pybpf import bpf, current_task, kernel_str, maps, u8, u32, u64, user_str

numbers = (1, 2, 3)


class Rec(bpf.Struct):
    count: u32
    total: u64


emap = maps.Hash(key=u32, value=Rec, max_entries=4, name="e_map")


class Wide(bpf.Struct):
    count: u64
    pad: "u8[600]"


ewide = maps.Hash(key=u32, value=Wide, max_entries=4, name="e_wide")
earr = maps.Array(key=u32, value=u64, max_entries=4, name="e_arr")

@bpf.inline
def rec_a(n: u64) -> u64:
    return rec_b(n - 1)


@bpf.inline
def rec_b(n: u64) -> u64:
    if n == 0:
        return 0
    return rec_a(n)  # <-


def plain_python(x):
    return x + 1


@bpf.function
def err_recursion(a: u64) -> u64:
    return rec_a(a)


@bpf.function
def err_unbounded_for(a: u64) -> u64:
    s = 0
    for x in numbers:  # <-
        s += x
    return s


@bpf.function
def err_range_nonconst(a: u64) -> u64:
    s = 0
    for i in range(a):  # <-
        s += i
    return s


@bpf.function
def err_float(a: u64) -> u64:
    return a * 1.5  # <-


@bpf.function
def err_list(a: u64) -> u64:
    xs = [a, a]  # <-
    return xs[0]


@bpf.function
def err_dict(a: u64) -> u64:
    d = {1: a}  # <-
    return d[1]


@bpf.function
def err_listcomp(a: u64) -> u64:
    xs = [i for i in range(3)]  # <-
    return xs


@bpf.function
def err_lambda(a: u64) -> u64:
    f = lambda x: x + 1  # <-  # noqa: E731
    return f(a)


@bpf.function
def err_unknown_name(a: u64) -> u64:
    total = a
    return totl + 1  # <-  # noqa: F821


@bpf.function
def err_store_string(a: u64) -> u64:
    x = a
    x = "hello"  # <-
    return x


@bpf.function
def err_compare_strings(a: u64) -> u64:
    if "abc" < "abd":  # <-
        return 1
    return 0


@bpf.function
def err_div(a: u64, b: u64) -> u64:
    return a / b  # <-


@bpf.function
def err_try(a: u64) -> u64:
    try:  # <-
        return a
    except Exception:
        return 0


@bpf.function
def err_nested_def(a: u64) -> u64:
    def inner(x):  # <-
        return x

    return a


@bpf.function
def err_global(a: u64) -> u64:
    global numbers  # <-
    return a


@bpf.function
def err_keyword_call(a: u64) -> u64:
    return min(a, b=3)  # <-


@bpf.function
def err_print(a: u64) -> u64:
    print(a)  # <-
    return a


@bpf.function
def err_python_call(a: u64) -> u64:
    return plain_python(a)  # <-


@bpf.function
def err_module_call(a: u64) -> u64:
    return math.gcd(a, 3)  # <-


@bpf.function
def err_struct_field(a: u32) -> u64:
    r = Rec(a, 1)
    return r.totl  # <-


@bpf.function
def err_map_struct_field(a: u32) -> u64:
    return emap[a].cont  # <-


@bpf.function
def err_stack(a: u64) -> u64:
    # variables too big for the stack move to scratch memory, but a new map value being
    # built for an insert cannot
    ewide[a].count += 1  # <-
    return 0


@bpf.function
def err_unknown_type(a: u64) -> u64:
    x: "u24" = a  # <-
    return x


@bpf.function
def err_while_else(a: u64) -> u64:
    while a > 0:  # <-
        a -= 1
    else:
        a = 5
    return a


@bpf.tracepoint("nosuch:thing")  # <-
def err_tracepoint(ctx):
    return 0


@bpf.tracepoint("syscalls:sys_enter_openat")
def err_tp_field(ctx):
    return ctx.filenam  # <-


@bpf.tracepoint("syscalls:sys_enter_openat")
def err_user_str_of_kernel_pointer(ctx):
    s = user_str(current_task().real_parent, 16)  # <-
    return 0


@bpf.tracepoint("syscalls:sys_enter_openat")
def err_kernel_str_of_user_pointer(ctx):
    s = kernel_str(ctx.filename, 16)  # <-
    return 0


class Named(bpf.Struct):
    name: "char[32]"


@bpf.tracepoint("sched:sched_process_exec")
def err_data_loc_as_string(ctx):
    e = Named()
    e.name = ctx.filename  # <-
    return 0


@bpf.function
def err_struct_extra_args(a: u32) -> u64:
    r = Rec(a, 1, 2)  # <-
    return r.count


@bpf.function
def err_array_del(a: u32) -> u64:
    del earr[a & 3]  # <-
    return 0


@bpf.function
def err_literal_too_wide(a: u8) -> u64:
    return a + 300  # <-


@bpf.function
def err_maybe_unassigned(a: u32) -> u64:
    if a > 3:
        late = a * 2
    return late + 1  # <-


@bpf.function
def err_assigned_in_while_only(a: u32) -> u64:
    n = 0
    while n < a:
        last = n
        n += 1
    return last  # <- while


@bpf.function
def ok_assigned_on_every_path(a: u32) -> u64:
    if a > 3:
        v = a
    else:
        v = 1
    for i in range(4):  # a constant, non-empty range runs at least once
        w = i
    while True:
        x = a
        break
    return v + w
