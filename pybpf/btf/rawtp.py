"""Tracepoint argument types from BTF: raw tracepoint arguments and record structs.

For every tracepoint the kernel has ``typedef void (*btf_trace_<name>)(void *ctx, args...)``;
the argument names are not in that typedef but in the functions generated for the same
tracepoint (``__probestub_<name>``, ``__bpf_trace_<name>``, ``__traceiter_<name>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf.btf import types as t
from pybpf.btf.errors import BTFError, BTFNotFoundError

if TYPE_CHECKING:
    from pybpf.btf.btf import BTF

_NAMED_PROTOS = ("__probestub_", "__bpf_trace_", "__traceiter_")


def _event_name(name: str) -> str:
    return name.rsplit(":", 1)[-1].strip()


def raw_tracepoint_proto(btf: BTF, name: str) -> t.FuncProto:
    """The function prototype behind ``btf_trace_<name>`` (its first parameter is ctx)."""
    event = _event_name(name)
    try:
        typedef = btf.find(f"btf_trace_{event}", "typedef")
    except BTFNotFoundError:
        def near() -> list[str]:
            return [n[len("btf_trace_") :] for n in btf.suggest(f"btf_trace_{event}", "typedef")]

        raise BTFNotFoundError(f"no raw tracepoint {event!r} in the kernel's BTF", near) from None
    ptr = typedef.resolve() if isinstance(typedef, t.Typedef) else typedef
    proto = ptr.target.resolve() if isinstance(ptr, t.Ptr) else None
    if not isinstance(proto, t.FuncProto) or not proto.params:
        raise BTFError(f"btf_trace_{event} is {typedef.target}, not a pointer to a function with a ctx argument")
    return proto


def raw_tracepoint_args(btf: BTF, name: str) -> list[tuple[str, t.Type]]:
    """Arguments of raw tracepoint ``name`` as ``[(name, type)]``, without the leading ctx.

    ``raw_tracepoint_args(b, "sched_switch")`` gives ``preempt``, ``prev``, ``next``,
    ``prev_state``. Types come from ``btf_trace_<name>``; names from the stub functions
    when they are there (else ``arg0``, ``arg1``...).
    """
    event = _event_name(name)
    params = raw_tracepoint_proto(btf, event).params[1:]
    names = _param_names(btf, event, len(params))
    return [(names[i], p.type) for i, p in enumerate(params)]


def _param_names(btf: BTF, event: str, count: int) -> list[str]:
    for prefix in _NAMED_PROTOS:
        for func in btf.find_all(prefix + event, "func"):
            assert isinstance(func, t.Func)
            params = func.proto.params[1:]
            if len(params) == count and all(p.name for p in params):
                return [p.name for p in params]
    return [f"arg{i}" for i in range(count)]


def tracepoint_record(btf: BTF, name: str, fields: list[str] | None = None) -> t.Struct:
    """``struct trace_event_raw_<name>`` for tracepoint ``name`` ("group:name" or "name").

    Events declared with ``DEFINE_EVENT`` use the struct of their event class, which is
    found through the stub function they share with it. Several classes can share one
    prototype, so ``fields`` (the record's field names, e.g. from tracefs) picks the struct
    whose members match; without them an ambiguous choice raises :class:`BTFError`.
    """
    event = _event_name(name)
    names = [f"trace_event_raw_{event}"]
    names += [f"trace_event_raw_{c}" for c in _event_classes(btf, event)]
    found = [s for n in dict.fromkeys(names) for s in btf.find_all(n, "struct") if isinstance(s, t.Struct)]
    if fields is not None:
        wanted = [f for f in fields if not f.startswith("common_")]
        found = [s for s in found if record_fields(s) == wanted]
    if len(found) == 1 or (found and found[0].name == names[0]):
        return found[0]
    if found:
        raise BTFError(
            f"tracepoint {event!r} matches several record structs "
            f"({', '.join(s.name for s in found)}); pass its fields to choose"
        )
    raise BTFNotFoundError(
        f"no record struct for tracepoint {event!r} (no struct trace_event_raw_{event} in BTF)",
        [n[len("trace_event_raw_") :] for n in btf.suggest(f"trace_event_raw_{event}", "struct")],
    )


def record_fields(record: t.Composite) -> list[str]:
    """Field names of a ``trace_event_raw_*`` struct as tracefs names them."""
    out = []
    for m in record.members:
        if m.name in ("ent", "__data") or not m.name:
            continue
        out.append(m.name[len("__data_loc_") :] if m.name.startswith("__data_loc_") else m.name)
    return out


def _event_classes(btf: BTF, event: str) -> list[str]:
    """Event classes whose ``__bpf_trace_<class>`` shares its prototype with ``event``'s stub."""
    protos = {f.proto_id for f in btf.find_all(f"__probestub_{event}", "func") if isinstance(f, t.Func)}
    if not protos:
        return []
    classes = []
    for func in btf.types("func", with_base=True):
        if isinstance(func, t.Func) and func.proto_id in protos and func.name.startswith("__bpf_trace_"):
            classes.append(func.name[len("__bpf_trace_") :])
    return classes

