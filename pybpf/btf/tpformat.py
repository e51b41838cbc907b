"""Parse the ``format`` file of a tracefs event into a :class:`TracepointFormat`.

A format file looks like::

    name: sched_switch
    ID: 316
    format:
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
    ...
    \tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;

    print fmt: "prev_comm=%s ...", REC->prev_comm, ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pybpf.btf.errors import BTFError, BTFNotFoundError, suggest

_FIELD = re.compile(
    r"^\s*field:(?P<decl>[^;]*);\s*offset:\s*(?P<offset>\d+);\s*size:\s*(?P<size>\d+);"
    r"(?:\s*signed:\s*(?P<signed>\d+);)?\s*$"
)
_DECL = re.compile(r"^(?P<type>.*?)(?P<name>[A-Za-z_]\w*)\s*(?P<dims>(?:\[[^\]]*\]\s*)*)$")
_ELEM_SIZES = {
    "char": 1, "signed char": 1, "unsigned char": 1, "u8": 1, "s8": 1, "__u8": 1, "__s8": 1, "bool": 1,
    "short": 2, "unsigned short": 2, "u16": 2, "s16": 2, "__u16": 2, "__s16": 2, "__be16": 2,
    "int": 4, "unsigned int": 4, "u32": 4, "s32": 4, "__u32": 4, "__s32": 4, "__be32": 4, "pid_t": 4,
    "long": 8, "unsigned long": 8, "u64": 8, "s64": 8, "__u64": 8, "__s64": 8, "long long": 8,
    "unsigned long long": 8, "void *": 8,
}  # fmt: skip


class TracepointFormatError(BTFError):
    """A tracefs format file that cannot be understood."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a tracepoint record.

    ``c_type`` is the C type without the name (``"char[16]"``, ``"const char *"``,
    ``"__data_loc char[]"``); ``elem_type`` drops array brackets and ``__data_loc``.
    A ``__data_loc`` field is a u32: low 16 bits the offset of the data in the record,
    high 16 bits its length (``__rel_loc``: offset relative to the end of the field).
    """

    name: str
    c_type: str
    offset: int
    size: int
    signed: bool
    elem_type: str
    is_array: bool = False
    array_len: int | None = None
    is_pointer: bool = False
    is_data_loc: bool = False
    is_rel_loc: bool = False

    @property
    def is_string(self) -> bool:
        """True for ``char`` arrays and ``__data_loc char[]`` (NUL-terminated text)."""
        return self.is_array and self.elem_type in ("char", "const char", "unsigned char")

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True, slots=True)
class TracepointFormat:
    """The record layout of one tracepoint: ``fields`` exclude the ``common_*`` header."""

    group: str
    name: str
    id: int
    fields: list[Field]
    common_fields: list[Field] = field(default_factory=list)
    print_fmt: str = ""

    @property
    def common_size(self) -> int:
        """Bytes taken by the common header (``common_type`` ... ``common_pid``)."""
        return max((f.end for f in self.common_fields), default=0)

    @property
    def size(self) -> int:
        """Bytes of the fixed part of the record (dynamic ``__data_loc`` data comes after)."""
        return max((f.end for f in self.common_fields + self.fields), default=0)

    @property
    def all_fields(self) -> list[Field]:
        return self.common_fields + self.fields

    def field(self, name: str) -> Field:
        for f in self.common_fields + self.fields:
            if f.name == name:
                return f
        raise BTFNotFoundError(
            f"tracepoint {self.group}:{self.name} has no field {name!r}",
            suggest(name, [f.name for f in self.all_fields]),
        )

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.all_fields)


def parse_field(decl: str, offset: int, size: int, signed: bool) -> Field:
    """Build a :class:`Field` from the declaration text of a ``field:`` line."""
    text = " ".join(decl.split())
    data_loc = rel_loc = False
    for prefix in ("__data_loc ", "__rel_loc "):
        if text.startswith(prefix):
            data_loc, rel_loc = True, prefix == "__rel_loc "
            text = text[len(prefix) :]
    m = _DECL.match(text)
    if m is None or not m.group("type").strip():
        raise TracepointFormatError(f"cannot read the field declaration {decl!r}")
    ctype = m.group("type").strip()
    name = m.group("name")
    name_dims = re.findall(r"\[([^\]]*)\]", m.group("dims"))
    dims = name_dims + re.findall(r"\[([^\]]*)\]", ctype)
    ctype_dims = "".join(f"[{d.strip()}]" for d in name_dims)
    elem = re.sub(r"\s*\[[^\]]*\]", "", ctype).strip()
    is_array = bool(dims)
    array_len: int | None = None
    if is_array and not data_loc:
        first = dims[0].strip()
        if first.isdigit():
            array_len = int(first)
        elif first and elem in _ELEM_SIZES and size % _ELEM_SIZES[elem] == 0:
            array_len = size // _ELEM_SIZES[elem]  # a macro such as TASK_COMM_LEN
    is_pointer = elem.endswith("*") and not is_array
    c_type = ("__rel_loc " if rel_loc else "__data_loc " if data_loc else "") + ctype + ctype_dims
    return Field(name, c_type, offset, size, signed, elem, is_array, array_len, is_pointer, data_loc, rel_loc)


def parse_format(text: str, group: str = "", name: str = "") -> TracepointFormat:
    """Parse the text of a tracefs ``format`` file (raises :class:`TracepointFormatError`)."""
    where = f"{group}:{name}" if group or name else "tracepoint"
    event_id: int | None = None
    in_format = False
    fields: list[Field] = []
    common: list[Field] = []
    print_fmt = ""
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("name:") and not in_format:
            name = name or stripped[5:].strip()
        elif stripped.startswith("ID:"):
            try:
                event_id = int(stripped[3:].strip())
            except ValueError:
                raise TracepointFormatError(f"format of {where}, line {lineno}: bad ID {stripped[3:].strip()!r}") from None
        elif stripped == "format:":
            in_format = True
        elif stripped.startswith("print fmt:"):
            print_fmt = stripped[len("print fmt:") :].strip()
            in_format = False
        elif stripped.startswith("field:"):
            if not in_format:
                raise TracepointFormatError(f"format of {where}, line {lineno}: field before 'format:'")
            m = _FIELD.match(stripped)
            if m is None:
                raise TracepointFormatError(f"format of {where}, line {lineno}: cannot read {stripped!r}")
            try:
                f = parse_field(m.group("decl"), int(m.group("offset")), int(m.group("size")), m.group("signed") == "1")
            except TracepointFormatError as e:
                raise TracepointFormatError(f"format of {where}, line {lineno}: {e}") from None
            (common if f.name.startswith("common_") else fields).append(f)
        elif in_format:
            raise TracepointFormatError(f"format of {where}, line {lineno}: unexpected text {stripped!r}")
    if event_id is None:
        raise TracepointFormatError(f"format of {where} has no 'ID:' line")
    if not in_format and not fields and not common:
        raise TracepointFormatError(f"format of {where} has no 'format:' section")
    return TracepointFormat(group, name, event_id, fields, common, print_fmt)
