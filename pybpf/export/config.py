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
"FILE:LINE: what is wrong".
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import yaml

from pybpf.export import decoders

TOP_KEYS = {"listen", "defaults", "limit", "modules", "metrics"}
MODULE_KEYS = {"path", "module", "limit", "metrics"}
METRIC_KEYS = {"name", "type", "map", "help", "field", "labels", "limit", "scale",
               "max_bucket"}
LABEL_KEYS = {"name", "decoder"}


class ConfigError(Exception):
    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")
        self.file, self.line, self.message = file, line, message


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


@dataclass
class ModuleSpec:
    file: str
    line: int
    path: str | None = None
    module: str | None = None
    limit: int | None = None
    metrics: list[MetricSpec] = dataclasses.field(default_factory=list)


@dataclass
class Config:
    listen: str | None = None
    defaults: list[str] | None = None  # None: all groups
    limit: int | None = None
    modules: list[ModuleSpec] = dataclasses.field(default_factory=list)
    limits: dict[str, int] = dataclasses.field(default_factory=dict)


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, node: Any, message: str) -> ConfigError:
        return ConfigError(self.file, node.start_mark.line + 1, message)

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
        return yaml.safe_load(yaml.serialize(node))

    def text(self, node: Any, what: str) -> str:
        v = self.scalar(node, what)
        if not isinstance(v, str) or not v:
            raise self.fail(node, f"{what} must be text")
        return v

    def integer(self, node: Any, what: str, low: int = 1, high: int = 1 << 31) -> int:
        v = self.scalar(node, what)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise self.fail(node, f"{what} must be an integer from {low} to {high}")
        return v

    def seq(self, node: Any, what: str) -> list[Any]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def value(self, node: Any) -> Any:
        return yaml.safe_load(yaml.serialize(node))


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
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {text!r}: give HOST:PORT, e.g. 127.0.0.1:9435")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def _label(r: _Reader, node: Any) -> tuple[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        return r.text(node, "a label"), "int"
    keys = r.mapping(node, "a label", LABEL_KEYS)
    if "name" not in keys:
        raise r.fail(node, "a label needs a name")
    name = r.text(keys["name"][1], "the label's name")
    spec: Any = "int"
    if "decoder" in keys:
        dnode = keys["decoder"][1]
        spec = r.value(dnode)
        if isinstance(spec, dict) and set(spec) <= {"static", "default"} and "static" in spec:
            table = spec["static"]
            if not isinstance(table, dict):
                raise r.fail(dnode, "static: give a mapping {value: text}")
            spec = decoders.static(table, None if spec.get("default") is None
                                   else str(spec["default"]))
        elif isinstance(spec, dict):
            spec = decoders.static(spec)
        elif not isinstance(spec, str) or spec not in decoders.NAMES:
            raise r.fail(dnode, f"unknown decoder {spec!r} (one of "
                                f"{', '.join(sorted(decoders.NAMES))}, or static: {{...}})")
    return name, spec


def _metric(r: _Reader, node: Any) -> MetricSpec:
    keys = r.mapping(node, "a metric", METRIC_KEYS)
    for need in ("name", "type", "map"):
        if need not in keys:
            raise r.fail(node, f"a metric needs {need!r}")
    kind = r.text(keys["type"][1], "type")
    if kind not in ("counter", "gauge", "histogram"):
        raise r.fail(keys["type"][1], f"type {kind!r}: counter, gauge or histogram")
    spec = MetricSpec(r.file, node.start_mark.line + 1, r.text(keys["name"][1], "name"), kind,
                      r.text(keys["map"][1], "map"))
    if "help" in keys:
        spec.help = str(r.scalar(keys["help"][1], "help"))
    if "field" in keys:
        spec.field = r.text(keys["field"][1], "field")
    if "labels" in keys:
        spec.labels = [_label(r, n) for n in r.seq(keys["labels"][1], "labels")]
    if "limit" in keys:
        spec.limit = r.integer(keys["limit"][1], "limit")
    if "scale" in keys:
        v = r.scalar(keys["scale"][1], "scale")
        try:
            spec.scale = float(v)
        except (TypeError, ValueError):
            raise r.fail(keys["scale"][1], "scale must be a number, e.g. 1e-9") from None
    if "max_bucket" in keys:
        spec.max_bucket = r.integer(keys["max_bucket"][1], "max_bucket", 0, 64)
    return spec


def _module(r: _Reader, node: Any) -> ModuleSpec:
    keys = r.mapping(node, "a module", MODULE_KEYS)
    spec = ModuleSpec(r.file, node.start_mark.line + 1)
    if ("path" in keys) == ("module" in keys):
        raise r.fail(node, "a module needs exactly one of 'path' (a .py file) or 'module' "
                           "(an importable name)")
    if "path" in keys:
        path = r.text(keys["path"][1], "path")
        full = os.path.join(os.path.dirname(os.path.abspath(r.file)), path)
        if not os.path.isfile(full):
            raise r.fail(keys["path"][1], f"no such file: {path}")
        spec.path = full
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
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(path, 0, f"cannot read: {e.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(path, line, f"not valid YAML: {e.problem or e}") from None
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
