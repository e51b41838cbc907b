"""Getting a Python function's syntax tree with real file positions, and its environment."""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass
from typing import Any

from pybpf.compiler.errors import CompileError, Loc


@dataclass
class Source:
    tree: ast.FunctionDef
    file: str
    first_line: int  # line number of the `def` in the file
    lines: list[str]  # the dedented source lines
    indent: int  # columns removed by dedent
    env: dict[str, Any]  # globals, then closure variables on top

    def loc(self, node: ast.AST | None) -> Loc:
        if node is None or not hasattr(node, "lineno"):
            return Loc(self.file, self.first_line, 1)
        idx = node.lineno - 1
        text = self.lines[idx] if 0 <= idx < len(self.lines) else ""
        return Loc(self.file, self.first_line + idx, node.col_offset + 1 + self.indent,
                   " " * self.indent + text)

    def def_loc(self) -> Loc:
        """The decorator line (or the def line): where errors about the whole program go."""
        if not self.tree.decorator_list:
            return self.loc(self.tree)
        loc = self.loc(self.tree.decorator_list[0])  # the expression after the '@'
        return Loc(loc.file, loc.line, max(loc.col - 1, 1), loc.text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def source_of(func: Any) -> Source:
    """Parse `func`'s own source text (with decorators dropped)."""
    try:
        raw_lines, first = inspect.getsourcelines(func)
        file = inspect.getsourcefile(func) or "<unknown>"
    except (OSError, TypeError) as e:
        raise CompileError(f"cannot read the source of {getattr(func, '__name__', func)!r}: "
                           f"{e}", None, "Define compiled functions in a file (or a module), "
                           "not in an interactive prompt without source.") from None
    text = "".join(raw_lines)
    dedented = textwrap.dedent(text)
    indent = len(raw_lines[0]) - len(raw_lines[0].lstrip()) if raw_lines else 0
    try:
        module = ast.parse(dedented)
    except SyntaxError as e:
        raise CompileError(f"syntax error: {e.msg}",
                           Loc(file, first + (e.lineno or 1) - 1, (e.offset or 1) + indent,
                               raw_lines[(e.lineno or 1) - 1] if raw_lines else "")) from None
    fdef = next((n for n in module.body if isinstance(n, ast.FunctionDef)), None)
    if fdef is None:
        raise CompileError(f"{func!r} is not a plain function definition",
                           Loc(file, first, 1, raw_lines[0] if raw_lines else ""))
    # line numbers of the def itself (decorators come first in the source lines)
    env = dict(getattr(func, "__globals__", {}))
    closure = inspect.getclosurevars(func) if inspect.isfunction(func) else None
    if closure is not None:
        env.update(closure.nonlocals)
    return Source(fdef, file, first, dedented.splitlines(), indent, env)
