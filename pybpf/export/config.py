"""The exporter's YAML configuration, checked with the file and line of every mistake.

    listen: 127.0.0.1:9435          # the command line's --listen wins
    defaults: true                  # or false, or a list of groups: [syscalls, block, ...]
    limit: 2000                     # series per metric (each metric may lower or raise it)
    modules:
      - path: opens.py              # relative to this file; or `module: package.name`
        limit: 500                  # for this module's metrics
        metrics:                    # in addition to the module's own METRICS list
          - name: myapp_opens_total
            type: counter           # counter, gauge or histogram
            map: opens              # a map at the module's top level
            help: openat() calls by result
            field: count            # for struct values
            labels:
              - {name: result, decoder: errno}
              - {name: kind, decoder: {static: {0: file, 1: dir}, default: other}}
          - {name: myapp_latency_seconds, type: histogram, map: lat, scale: 1e-9,
             max_bucket: 36}
    metrics:                        # per metric, by name (defaults' too)
      pybpf_syscalls_total: {limit: 100}

Several files are merged in order (lists appended, later values win). Errors raise ConfigError
"FILE:LINE:COL: what is wrong" (one line, never a traceback): the file must be UTF-8, nested at
most MAX_DEPTH levels, and at most MAX_NODES nodes once its aliases are expanded.

A module's `path:` (or `module:`) is Python code that the exporter imports, so executes, with
its own privileges (root, or CAP_BPF and CAP_PERFMON): trust a configuration like code, and
keep it and the files it names writable only by whoever may run code as the exporter.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any

import yaml

from pybpf.export import decoders

TOP_KEYS = {"listen", "defaults", "limit", "modules", "metrics"}
MODULE_KEYS = {"path", "module", "limit", "metrics"}
METRIC_KEYS = {"name", "type", "map", "help", "field", "labels", "limit", "scale",
               "max_bucket"}
LABEL_KEYS = {"name", "decoder"}
MAX_DEPTH = 64  # a real configuration nests about 10 levels; PyYAML's composer recurses
MAX_NODES = 100_000  # nodes counted as if every alias were a copy (a "billion laughs" bomb)
MAX_LABELS = 16  # labels of one metric: each multiplies the series a map can make
MAX_LIMIT = 1_000_000  # series per metric: Prometheus itself struggles long before this
# Prometheus's own rules, ASCII only: str.isdigit() and \d also accept "٣" and "²"
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*", re.ASCII)
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*", re.ASCII)
INTEGER = re.compile(r"-?[0-9]+", re.ASCII)


class ConfigError(Exception):
    def __init__(self, file: str, line: int, message: str, col: int = 0) -> None:
        where = f"{file}:{line}:{col}" if line and col else f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")
        self.file, self.line, self.col, self.message = file, line, col, message


@dataclass
class MetricSpec:
    file: str
    line: int
    name: str
    type: str
    map: str
    help: str = ""
    field: str | None = None
    labels: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    limit: int | None = None
    scale: float = 1.0
    max_bucket: int = 36
    col: int = 0


@dataclass
class ModuleSpec:
    file: str
    line: int
    path: str | None = None
    module: str | None = None
    limit: int | None = None
    metrics: list[MetricSpec] = dataclasses.field(default_factory=list)
    col: int = 0


@dataclass
class Config:
    listen: str | None = None
    defaults: list[str] | None = None  # None: all groups
    limit: int | None = None
    modules: list[ModuleSpec] = dataclasses.field(default_factory=list)
    limits: dict[str, int] = dataclasses.field(default_factory=dict)


class _Loader(yaml.SafeLoader):
    """Composes nodes (never Python objects for the whole file), refusing what would overflow
    the stack or blow up later: nesting deeper than MAX_DEPTH (checked before the recursive
    composer goes deeper), an alias inside the node it names (a cycle), and more than
    MAX_NODES nodes counting each alias as a copy (the alias bomb: composing shares the
    nodes, but everything that walks or prints them later would expand it)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.open_anchors: list[str] = []
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node): (expanded nodes, height)

    def _refuse(self, mark: Any, problem: str) -> yaml.YAMLError:
        return yaml.composer.ComposerError(None, None, problem, mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open_anchors:
                raise self._refuse(event.start_mark, f"alias *{event.anchor} is inside the "
                                                     "node it names")
            node = super().compose_node(parent, index)
            if self.depth + self.sizes[id(node)][1] > MAX_DEPTH:
                raise self._refuse(event.start_mark, f"nested deeper than {MAX_DEPTH} levels "
                                                     f"once *{event.anchor} is expanded")
            return node
        if self.depth >= MAX_DEPTH:
            raise self._refuse(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        anchor = getattr(event, "anchor", None)
        self.depth += 1
        if anchor is not None:
            self.open_anchors.append(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.pop()
        self._measure(node)
        return node

    def _measure(self, node: Any) -> None:
        if isinstance(node, yaml.ScalarNode):
            self.sizes[id(node)] = (1, 1)
            return
        children = [c for kv in node.value for c in kv] if isinstance(node, yaml.MappingNode) \
            else node.value
        # every child was composed (and measured) before its parent, aliased ones included
        measured = [self.sizes[id(c)] for c in children]
        size = 1 + sum(n for n, _ in measured)
        if size > MAX_NODES:
            raise self._refuse(node.start_mark, f"more than {MAX_NODES} nodes once its "
                                                "aliases are expanded")
        self.sizes[id(node)] = (size, 1 + max((h for _, h in measured), default=0))


def _position(text: str, index: int) -> tuple[int, int]:
    """(line, column), both from 1, of the character at `index`."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _decode(path: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[:e.start].decode("utf-8")  # all before the first bad byte decodes
        line, col = _position(good, len(good))
        raise ConfigError(path, line, f"not UTF-8 text (byte {data[e.start]:#04x}); save the "
                                      "file as UTF-8", col) from None
    return text.removeprefix("\ufeff")  # a byte-order mark some editors write


def _compose(path: str, text: str) -> Any:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        problem = e.problem or "error"
        if e.context:  # e.g. "found duplicate anchor 'a'; first occurrence" and its place
            cm = e.context_mark
            problem += f" ({e.context}{f' at {cm.line + 1}:{cm.column + 1}' if cm else ''})"
        raise ConfigError(path, line, f"not valid YAML: {problem}", col) from None
    except yaml.reader.ReaderError as e:  # a control character: it has an index, no mark
        line, col = _position(text, e.position)
        raise ConfigError(path, line, f"not valid YAML: {e.reason} (U+{e.character:04X})",
                          col) from None
    except yaml.YAMLError as e:  # its text has several lines: the message must keep one
        raise ConfigError(path, 0, f"not valid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:  # MAX_DEPTH should stop it first; never a traceback regardless
        raise ConfigError(path, 0, "not valid YAML: nested too deeply") from None


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, node: Any, message: str) -> ConfigError:
        mark = node.start_mark
        return ConfigError(self.file, mark.line + 1, message, mark.column + 1)

    def mapping(self, node: Any, what: str, allowed: set[str]) -> dict[str, tuple[Any, Any]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[Any, Any]] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise self.fail(k, f"{what}: keys must be names")
            if k.value not in allowed:
                raise self.fail(k, f"{what}: unknown key {k.value!r} (expected one of "
                                   f"{', '.join(sorted(allowed))})")
            if k.value in out:
                raise self.fail(k, f"{what}: {k.value!r} given twice")
            out[k.value] = (k, v)
        return out

    def scalar(self, node: Any, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return self.value(node, what)

    def text(self, node: Any, what: str) -> str:
        v = self.scalar(node, what)
        if not isinstance(v, str) or not v:
            raise self.fail(node, f"{what} must be text")
        return v

    def integer(self, node: Any, what: str, low: int = 1, high: int = MAX_LIMIT) -> int:
        v = self.scalar(node, what)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise self.fail(node, f"{what} must be an integer from {low} to {high}")
        return v

    def seq(self, node: Any, what: str) -> list[Any]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def value(self, node: Any, what: str) -> Any:
        # a fresh constructor per value: tags like !!int or !!python/... fail here, with the
        # node's position, instead of as a traceback
        try:
            return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or node.start_mark
            raise ConfigError(self.file, mark.line + 1, f"{what}: {e.problem}",
                              mark.column + 1) from None
        except (ValueError, TypeError, ArithmeticError) as e:  # e.g. !!int foo
            raise self.fail(node, f"{what}: {e}") from None


def _listen(r: _Reader, node: Any) -> str:
    text = str(r.scalar(node, "listen"))
    try:
        parse_listen(text)
    except ValueError as e:
        raise r.fail(node, str(e)) from None
    return text


def parse_listen(text: str) -> tuple[str, int]:
    """"HOST:PORT", "[V6]:PORT" or ":PORT" (127.0.0.1)."""
    host, sep, port = text.rpartition(":")
    if not sep or not INTEGER.fullmatch(port) or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {text!r}: give HOST:PORT, e.g. 127.0.0.1:9435")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def _label_name(r: _Reader, node: Any, what: str) -> str:
    name = r.text(node, what)
    # "_" drops the key component (see metrics); "__" names are Prometheus's own
    if name != "_" and (not LABEL_NAME.fullmatch(name) or name.startswith("__")):
        raise r.fail(node, f"{what} {name!r} is not a Prometheus label name (ASCII letters, "
                           "digits and _, not starting with a digit or __)")
    return name


def _metric_name(r: _Reader, node: Any) -> str:
    name = r.text(node, "name")
    if not METRIC_NAME.fullmatch(name):
        raise r.fail(node, f"{name!r} is not a Prometheus metric name (ASCII letters, digits, "
                           "_ and :, not starting with a digit)")
    return name


def _table(r: _Reader, node: Any) -> dict[int, str]:
    """A static decoder's {value: text}: the values are the integers the map's key holds
    (decimal text is taken too, ASCII digits only)."""
    if not isinstance(node, yaml.MappingNode):
        raise r.fail(node, "static: give a mapping {value: text}")
    out: dict[int, str] = {}
    for k, v in node.value:
        key = r.scalar(k, "a static table's key")
        if isinstance(key, str) and INTEGER.fullmatch(key):
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int):
            raise r.fail(k, f"static table key {key!r}: give an integer (a value of the "
                            "map's key)")
        out[key] = str(r.scalar(v, "a static table's text"))
    return out


def _decoder(r: _Reader, node: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        if len(keys) == len(node.value) and "static" in keys and set(keys) <= {"static",
                                                                               "default"}:
            default = keys.get("default")
            text = None if default is None else r.scalar(default, "default")
            return decoders.static(_table(r, keys["static"]),
                                   None if text is None else str(text))
        return decoders.static(_table(r, node))
    spec = r.value(node, "decoder")
    if not isinstance(spec, str) or spec not in decoders.NAMES:
        raise r.fail(node, f"unknown decoder {spec!r} (one of "
                           f"{', '.join(sorted(decoders.NAMES))}, or static: {{...}})")
    return spec


def _label(r: _Reader, node: Any) -> tuple[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        return _label_name(r, node, "a label"), "int"
    keys = r.mapping(node, "a label", LABEL_KEYS)
    if "name" not in keys:
        raise r.fail(node, "a label needs a name")
    name = _label_name(r, keys["name"][1], "the label's name")
    spec: Any = "int"
    if "decoder" in keys:
        spec = _decoder(r, keys["decoder"][1])
    return name, spec


def _metric(r: _Reader, node: Any) -> MetricSpec:
    keys = r.mapping(node, "a metric", METRIC_KEYS)
    for need in ("name", "type", "map"):
        if need not in keys:
            raise r.fail(node, f"a metric needs {need!r}")
    kind = r.text(keys["type"][1], "type")
    if kind not in ("counter", "gauge", "histogram"):
        raise r.fail(keys["type"][1], f"type {kind!r}: counter, gauge or histogram")
    spec = MetricSpec(r.file, node.start_mark.line + 1, _metric_name(r, keys["name"][1]), kind,
                      r.text(keys["map"][1], "map"), col=node.start_mark.column + 1)
    if "help" in keys:
        spec.help = str(r.scalar(keys["help"][1], "help"))
    if "field" in keys:
        spec.field = r.text(keys["field"][1], "field")
    if "labels" in keys:
        nodes = r.seq(keys["labels"][1], "labels")
        if len(nodes) > MAX_LABELS:
            raise r.fail(nodes[MAX_LABELS], f"more than {MAX_LABELS} labels: every label "
                                            "multiplies the series; keep the few that matter")
        spec.labels = []
        for n in nodes:
            label = _label(r, n)
            if any(label[0] == seen for seen, _ in spec.labels):
                raise r.fail(n, f"label {label[0]!r} is given twice")
            spec.labels.append(label)
    if "limit" in keys:
        spec.limit = r.integer(keys["limit"][1], "limit", high=MAX_LIMIT)
    if "scale" in keys:
        v = r.scalar(keys["scale"][1], "scale")
        try:
            spec.scale = float(v)
        except (TypeError, ValueError):
            raise r.fail(keys["scale"][1], "scale must be a number, e.g. 1e-9") from None
    if "max_bucket" in keys:
        spec.max_bucket = r.integer(keys["max_bucket"][1], "max_bucket", 0, 64)
    return spec


def _module_path(r: _Reader, node: Any) -> str:
    """A module's `path:`: a .py file in the configuration's folder or below it (no `..`, no
    absolute path, no symbolic link out of it), that other users cannot write: the exporter
    runs it as code."""
    path = r.text(node, "path")
    folder = os.path.realpath(os.path.dirname(os.path.abspath(r.file)))
    full = os.path.realpath(os.path.join(folder, path))
    if os.path.isabs(path) or os.path.commonpath([folder, full]) != folder:
        raise r.fail(node, f"path {path!r} leaves the configuration's folder {folder}: put "
                           "the module beside the configuration, or install it and name it "
                           "with `module:`")
    if not full.endswith(".py"):
        raise r.fail(node, f"path {path!r}: give a Python file (.py)")
    try:
        st = os.stat(full)
    except OSError:
        raise r.fail(node, f"no such file: {path}") from None
    if not os.path.isfile(full):
        raise r.fail(node, f"no such file: {path}")
    if st.st_mode & 0o002 or st.st_uid not in (os.geteuid(), 0):
        raise r.fail(node, f"path {path!r}: the file is writable by others or owned by "
                           "another user, and the exporter would run it as code")
    return full


def _module(r: _Reader, node: Any) -> ModuleSpec:
    keys = r.mapping(node, "a module", MODULE_KEYS)
    spec = ModuleSpec(r.file, node.start_mark.line + 1, col=node.start_mark.column + 1)
    if ("path" in keys) == ("module" in keys):
        raise r.fail(node, "a module needs exactly one of 'path' (a .py file) or 'module' "
                           "(an importable name)")
    if "path" in keys:
        spec.path = _module_path(r, keys["path"][1])
    else:
        spec.module = r.text(keys["module"][1], "module")
    if "limit" in keys:
        spec.limit = r.integer(keys["limit"][1], "limit")
    if "metrics" in keys:
        spec.metrics = [_metric(r, n) for n in r.seq(keys["metrics"][1], "metrics")]
    return spec


def load_file(path: str, into: Config | None = None) -> Config:
    cfg = into or Config()
    try:
        with open(path, "rb") as f:  # bytes: the encoding is ours to check, not the locale's
            data = f.read()
    except OSError as e:
        raise ConfigError(path, 0, f"cannot read: {e.strerror}") from None
    root = _compose(path, _decode(path, data))
    if root is None:
        return cfg
    r = _Reader(path)
    keys = r.mapping(root, "the configuration", TOP_KEYS)
    if "listen" in keys:
        cfg.listen = _listen(r, keys["listen"][1])
    if "defaults" in keys:
        node = keys["defaults"][1]
        if isinstance(node, yaml.SequenceNode):
            from pybpf.export.defaults import GROUPS

            groups = []
            for n in node.value:
                g = r.text(n, "a default group")
                if g not in GROUPS:
                    raise r.fail(n, f"no default group {g!r} (one of {', '.join(GROUPS)})")
                groups.append(g)
            cfg.defaults = groups
        else:
            v = r.scalar(node, "defaults")
            if not isinstance(v, bool):
                raise r.fail(node, "defaults: true, false, or a list of groups")
            cfg.defaults = None if v else []
    if "limit" in keys:
        cfg.limit = r.integer(keys["limit"][1], "limit")
    if "modules" in keys:
        cfg.modules += [_module(r, n) for n in r.seq(keys["modules"][1], "modules")]
    if "metrics" in keys:
        for k, v in r.mapping(keys["metrics"][1], "metrics", _AnyKey()).values():
            if not METRIC_NAME.fullmatch(k.value):
                raise r.fail(k, f"metrics: {k.value!r} is not a Prometheus metric name")
            opts = r.mapping(v, f"metric {k.value}", {"limit"})
            if "limit" in opts:
                cfg.limits[k.value] = r.integer(opts["limit"][1], "limit")
    return cfg


class _AnyKey(set[str]):
    def __contains__(self, item: object) -> bool:
        return True


def load(paths: list[str]) -> Config:
    cfg = Config()
    for p in paths:
        load_file(p, cfg)
    return cfg
