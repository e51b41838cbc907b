"""`__ksym` externs: kernel functions (kfuncs) and kernel variables an object names.

clang puts every `extern ... __attribute__((section(".ksyms")))` declaration in the `.ksyms`
DATASEC of the object's BTF: a FUNC for a kfunc, a VAR for a variable. A VAR whose type is
void (`extern const void sym __ksym;`) is untyped: its address comes from /proc/kallsyms.
Typed ones are looked up by name in the kernel's BTF, and their types checked against the
kernel's (as libbpf does: a kfunc's parameter count and kinds, a variable's kind). A missing
`__weak` extern resolves to nothing: the linker loads 0 for its address and makes calls to
it the poisoned call libbpf writes, which the verifier accepts as long as it is dead code
(`if (bpf_ksym_exists(f)) f();`). A missing strong extern is an error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pybpf.btf import BTF
from pybpf.btf import types as t
from pybpf.elf.core import essential_name

KSYMS = ".ksyms"
#: libbpf's helper id base for a call to a missing weak kfunc (plus the extern's index)
POISON_KFUNC_BASE = 2002000000


@dataclass(frozen=True, slots=True)
class KsymDecl:
    name: str
    kind: str  # "kfunc", "var" (typed), "untyped"
    type_id: int  # local BTF: the FUNC of a kfunc, the VAR's type of a variable
    weak: bool
    index: int  # among the object's externs (the poisoned call's helper id)


@dataclass(frozen=True, slots=True)
class KsymValue:
    """What an extern resolved to: a kernel BTF id (kfunc, typed variable) or an address;
    `found` False for a missing weak extern."""

    found: bool
    btf_id: int = 0
    addr: int = 0


class KsymError(Exception):
    """An extern that cannot be resolved (the message names it)."""


def declared(btf: BTF | None, weak: dict[str, bool], first_index: int = 0) -> dict[str, KsymDecl]:
    """The `.ksyms` externs of an object's (original, unpatched) BTF, by name."""
    if btf is None:
        return {}
    try:
        sec = btf.find(KSYMS, "datasec")
    except KeyError:
        return {}
    out: dict[str, KsymDecl] = {}
    for i, entry in enumerate(_entries(btf, sec)):
        if isinstance(entry, t.Func):
            kind, tid = "kfunc", entry.id
        else:
            assert isinstance(entry, t.Var)
            target = entry.type
            kind = "untyped" if isinstance(_strip(target), t.Void) else "var"
            tid = entry.type_id
        out[entry.name] = KsymDecl(entry.name, kind, tid, weak.get(entry.name, False),
                                   first_index + i)
    return out


def _entries(btf: BTF, sec: t.Type) -> list[t.Type]:
    assert isinstance(sec, t.Datasec)
    return [v.type for v in sec.vars if isinstance(v.type, t.Func | t.Var)]


def _strip(typ: t.Type) -> t.Type:
    for _ in range(64):
        if not isinstance(typ, t.Modifier):
            return typ
        typ = typ.target
    return typ


def resolve(decl: KsymDecl, local: BTF, kernel: BTF | None) -> KsymValue:
    """The kernel's value of one extern; KsymError when a strong one is missing or the
    kernel's type does not fit the declaration."""
    if decl.kind == "untyped":
        from pybpf.symbols.errors import SymbolNotFoundError
        from pybpf.symbols.kallsyms import ksym_addr

        try:
            return KsymValue(True, addr=ksym_addr(decl.name))
        except SymbolNotFoundError as e:
            return _missing(decl, str(e))
        except OSError as e:
            return _missing(decl, f"cannot read /proc/kallsyms: {e}")
    if kernel is None:
        return _missing(decl, "the kernel has no BTF")
    kind = "func" if decl.kind == "kfunc" else "var"
    try:
        ktype = kernel.find(decl.name, kind)
    except KeyError:
        what = "function" if kind == "func" else "variable"
        return _missing(decl, f"the kernel's BTF has no {what} {decl.name}")
    if decl.kind == "kfunc":
        assert isinstance(ktype, t.Func)
        lfunc = local.type_by_id(decl.type_id)
        assert isinstance(lfunc, t.Func)
        why = _proto_mismatch(lfunc.proto, ktype.proto)
    else:
        assert isinstance(ktype, t.Var)
        why = _type_mismatch(local.type_by_id(decl.type_id), ktype.type)
    if why:
        raise KsymError(f"extern '{decl.name}' does not match the kernel's: {why}")
    return KsymValue(True, btf_id=ktype.id)


def _missing(decl: KsymDecl, why: str) -> KsymValue:
    if decl.weak:
        return KsymValue(False)
    raise KsymError(f"extern '{decl.name}' cannot be resolved: {why} (declare it __weak to "
                    "load without it, and test it with bpf_ksym_exists())")


def _proto_mismatch(local: t.FuncProto, kernel: t.FuncProto) -> str:
    if len(local.params) != len(kernel.params):
        return (f"{len(local.params)} parameters declared, the kernel's function has "
                f"{len(kernel.params)}")
    why = _type_mismatch(local.ret, kernel.ret, "return type")
    if why:
        return why
    for i, (p, q) in enumerate(zip(local.params, kernel.params, strict=True), 1):
        why = _type_mismatch(p.type, q.type, f"parameter {i}")
        if why:
            return why
    return ""


def _type_mismatch(a: t.Type, b: t.Type, what: str = "type", depth: int = 0) -> str:
    """libbpf's type compatibility of externs: the same kind after modifiers and typedefs
    (enum and enum64 as one, any two named types of a kind), integers and enums of any size,
    pointers to compatible types, arrays of compatible elements."""
    a, b = _strip(a), _strip(b)
    if isinstance(a, t.Enum) and isinstance(b, t.Enum):
        return ""
    if type(a) is not type(b):
        return f"{what}: {a.kind} declared, the kernel's is {b.kind}"
    if isinstance(a, t.Ptr) and depth < 16:
        assert isinstance(b, t.Ptr)
        return _type_mismatch(a.target, b.target, what, depth + 1)
    if isinstance(a, t.Array) and depth < 16:
        assert isinstance(b, t.Array)
        return _type_mismatch(a.elem, b.elem, what, depth + 1)
    if isinstance(a, t.Composite | t.Fwd) and a.name and b.name \
            and essential_name(a.name) != essential_name(b.name):
        return f"{what}: {a.kind} {a.name} declared, the kernel's is {b.kind} {b.name}"
    return ""
