"""Render BTF types as C text: ``struct task_struct *``, ``char[16]``, ``int (*)(void *)``.

Works on the type objects of :mod:`pybpf.btf.types` by their ``kind`` only, so it needs no
import of them. Recursion depth is bounded so that looping (malformed) BTF cannot hang it.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64
_QUALIFIERS = {"const": "const", "volatile": "volatile", "restrict": "restrict"}


def type_name(t: Any) -> str:
    """The C spelling of a type without a declared name."""
    if t.kind == "func":
        return declaration(t.proto, t.name)
    if t.kind == "var":
        return declaration(t.type, t.name)
    if t.kind == "datasec":
        return f"SEC(\"{t.name}\")"
    if t.kind == "decl_tag":
        return f"__attribute__((btf_decl_tag(\"{t.name}\")))"
    return declaration(t, "")


def declaration(t: Any, name: str) -> str:
    """The C declaration of ``name`` with type ``t`` (``name`` may be empty)."""
    return _render(t, name, 0)


def _join(base: str, inner: str) -> str:
    if not inner:
        return base
    if inner.startswith("["):
        return base + inner
    return f"{base} {inner}"


def _render(t: Any, inner: str, depth: int) -> str:
    if depth > MAX_DEPTH:
        return _join("<loop>", inner)
    kind = t.kind
    if kind == "ptr":
        target = t.target
        core = _skip_qualifiers(target, depth)
        star = "*" + inner
        if core.kind in ("array", "func_proto"):
            star = f"({star})"
        return _render(target, star, depth + 1)
    if kind == "array":
        return _render(t.elem, f"{inner}[{t.nelems}]", depth + 1)
    if kind == "func_proto":
        params = [declaration(p.type, p.name) if p.type_id else "..." for p in t.params]
        if t.variadic:
            params.append("...")
        arglist = ", ".join(params) if params else "void"
        return _render(t.ret, f"{inner}({arglist})", depth + 1)
    if kind in _QUALIFIERS:
        word = _QUALIFIERS[kind]
        target = t.target
        if _skip_qualifiers(target, depth).kind == "ptr":
            return _render(target, f"{word} {inner}" if inner else word, depth + 1)
        return f"{word} {_render(target, inner, depth + 1)}"
    if kind == "type_tag":
        tag = f"__attribute__((btf_type_tag(\"{t.name}\")))"
        return _render(t.target, f"{tag} {inner}" if inner else tag, depth + 1)
    return _join(_base_name(t), inner)


def _skip_qualifiers(t: Any, depth: int) -> Any:
    while t.kind in ("const", "volatile", "restrict", "type_tag") and depth < MAX_DEPTH:
        t = t.target
        depth += 1
    return t


def _base_name(t: Any) -> str:
    kind = t.kind
    if kind in ("struct", "union"):
        return f"{kind} {t.name}" if t.name else f"{kind} {{...}}"
    if kind in ("enum", "enum64"):
        return f"enum {t.name}" if t.name else "enum {...}"
    if kind == "fwd":
        return f"{'union' if t.is_union else 'struct'} {t.name}"
    if kind == "void":
        return "void"
    if kind in ("func", "var", "datasec", "decl_tag"):
        return type_name(t)
    return t.name or f"<anonymous {kind}>"


def definition(t: Any, indent: str = "") -> str:
    """A multi-line C definition of a struct/union/enum, with offsets as comments."""
    kind = t.kind
    head = f"{indent}{kind if kind != 'enum64' else 'enum'}{' ' + t.name if t.name else ''} {{"
    lines = [head]
    if kind in ("enum", "enum64"):
        lines += [f"{indent}\t{k} = {v}," for k, v in t.values.items()]
    else:
        for m in t.members:
            where = f"/* {m.offset}" + (f":{m.bit_offset % 8}" if m.bitfield_size else "") + " */"
            lines.append(f"{indent}\t{m};{'':<4}{where}")
    lines.append(f"{indent}}};" + (f" /* size {t.size} */" if hasattr(t, "size") else ""))
    return "\n".join(lines)
