"""AST -> source text (fully parenthesised expressions): for -d output and round-trip tests."""

from __future__ import annotations

from pybpf.lang import ast

_ESC = {"\n": "\\n", "\t": "\\t", "\\": "\\\\", '"': '\\"', "\r": "\\r", "\0": "\\0"}


def quote(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESC:
            out.append(_ESC[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def expr(e: ast.Expr) -> str:
    match e:
        case ast.Int(value=v):
            return str(v) if v >= 0 else f"({v})"
        case ast.Str(value=v):
            return quote(v)
        case ast.Ident(name=n):
            return n
        case ast.Param(index=i):
            return f"${i}"
        case ast.Var(name=n):
            return f"${n}"
        case ast.Map(name=n, keys=keys):
            return f"@{n}" + (f"[{', '.join(expr(k) for k in keys)}]" if keys else "")
        case ast.Field(base=b, name=n, arrow=arrow):
            return f"{expr(b)}{'->' if arrow else '.'}{n}"
        case ast.Index(base=b, index=i):
            return f"{expr(b)}[{expr(i)}]"
        case ast.Call(name=n, args=args):
            return f"{n}({', '.join(expr(a) for a in args)})"
        case ast.Binary(op=op, left=left, right=right):
            return f"({expr(left)} {op} {expr(right)})"
        case ast.Unary(op=op, operand=o):
            return f"({op}{expr(o)})"
        case ast.IncDec(op=op, target=t, prefix=prefix):
            return f"({op}{expr(t)})" if prefix else f"({expr(t)}{op})"
        case ast.Ternary(cond=c, then=t, other=o):
            return f"({expr(c)} ? {expr(t)} : {expr(o)})"
        case ast.Cast(type_name=t, operand=o):
            return f"(({t}){expr(o)})"
        case ast.Tuple(items=items):
            return f"({', '.join(expr(i) for i in items)})"
    raise TypeError(e)


def stmt(s: ast.Stmt, indent: str = "  ") -> list[str]:
    match s:
        case ast.ExprStmt(expr=e):
            return [f"{indent}{expr(e)};"]
        case ast.Assign(target=t, op=op, value=v):
            return [f"{indent}{expr(t)} {op} {expr(v)};"]
        case ast.If(cond=c, then=then, other=other):
            out = [f"{indent}if ({expr(c)}) {{", *block(then, indent + "  ")]
            if other:
                out += [f"{indent}}} else {{", *block(other, indent + "  ")]
            return out + [f"{indent}}}"]
        case ast.Unroll(count=c, body=body):
            return [f"{indent}unroll ({expr(c)}) {{", *block(body, indent + "  "), f"{indent}}}"]
        case ast.While(cond=c, body=body):
            return [f"{indent}while ({expr(c)}) {{", *block(body, indent + "  "), f"{indent}}}"]
        case ast.Jump(kind=k):
            return [f"{indent}{k};"]
    raise TypeError(s)


def block(stmts: list[ast.Stmt], indent: str) -> list[str]:
    return [line for s in stmts for line in stmt(s, indent)]


def program(p: ast.Program) -> str:
    out: list[str] = []
    for probe in p.probes:
        head = ", ".join(s.text for s in probe.specs)
        if probe.pred is not None:
            head += f" /{expr(probe.pred)}/"
        out += [head + " {", *block(probe.body, "  "), "}"]
    return "\n".join(out) + "\n"
