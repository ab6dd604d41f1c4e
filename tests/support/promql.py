"""Metric names in PromQL expressions, in alert rules and in Grafana dashboards.

A small tokenizer, not a parser: it removes what cannot hold a metric name (strings, label
matchers in ``{}``, ranges in ``[]``, label lists after ``by``/``without``/``on``/
``ignoring``/``group_left``/``group_right``, comments and Grafana ``$variables``), then keeps
every identifier that is neither a keyword nor followed by ``(`` (a function or aggregation).
What is left are the metric names, misspelled ones included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
# An identifier not glued to a number before it (so no `m` out of `5m`, no `e3` out of `1e3`).
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
        "atan2",
        "start",
        "end",
    }
)


def is_logql(expr: str) -> bool:
    """LogQL (Loki) rather than PromQL: PromQL has no ``|`` outside strings."""
    return "|" in _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects."""
    text = _STRING.sub('""', expr)
    text = _COMMENT.sub(" ", text)
    text = _GRAFANA_VARIABLE.sub("1", text)
    text = _BRACES.sub(" ", text)
    while _BRACKETS.search(text):
        text = _BRACKETS.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


# --- where expressions live -----------------------------------------------------------------


def rule_expressions(path: Path) -> Iterator[tuple[str, str]]:
    """(where, expr) for every rule of a Prometheus rules file."""
    document = yaml.safe_load(path.read_text()) or {}
    for group in document.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            yield f"{path.name}: {group['name']}/{name}", str(rule["expr"])


def recorded_names(path: Path) -> set[str]:
    """Series that recording rules in the file create."""
    document = yaml.safe_load(path.read_text()) or {}
    return {
        rule["record"]
        for group in document.get("groups", [])
        for rule in group.get("rules", [])
        if "record" in rule
    }


_OTHER_DATASOURCES = ("loki", "jaeger", "tempo", "infinity", "json", "grafana", "dashboard")


def _is_prometheus(datasource: Any) -> bool:
    """Unknown or unset counts as Prometheus, the stack's default datasource."""
    if isinstance(datasource, dict):
        kind = str(datasource.get("type") or "").lower()
        if kind:
            return kind == "prometheus"
        datasource = datasource.get("uid")
    if isinstance(datasource, str):
        lowered = datasource.lower()
        return not any(other in lowered for other in _OTHER_DATASOURCES)
    return True


_TEMPLATE_QUERY = re.compile(r"\s*(label_values|query_result|label_names|metrics)\((.*)\)\s*", re.S)


def template_expression(query: str) -> str | None:
    """The PromQL inside a Grafana variable query, or None when there is none."""
    match = _TEMPLATE_QUERY.fullmatch(query)
    if match is None:
        return query
    function, inner = match.groups()
    if function == "metrics":
        return None  # a regex over metric names, not an expression
    if function == "label_values":
        # label_values(label) or label_values(expr, label)
        return inner.rsplit(",", 1)[0] if "," in inner else None
    return inner or None


def dashboard_expressions(path: Path) -> Iterator[tuple[str, str]]:
    """(where, expr) for every PromQL query of a Grafana dashboard JSON file: panel targets
    (rows and nested panels included) and query variables; Loki and other datasources are
    left out."""
    dashboard = json.loads(path.read_text())

    def walk(node: Any, datasource: Any, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, list):
            for item in node:
                yield from walk(item, datasource, where)
            return
        if not isinstance(node, dict):
            return
        datasource = node.get("datasource", datasource)
        title = node.get("title")
        here = f"{where}/{title}" if isinstance(title, str) and title else where
        expr = node.get("expr")
        promql = isinstance(expr, str) and _is_prometheus(datasource) and not is_logql(expr)
        if promql and expr.strip():
            yield here, expr
        for key, value in node.items():
            if key != "templating":
                yield from walk(value, datasource, here)

    yield from walk({k: v for k, v in dashboard.items() if k != "templating"}, None, path.name)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query" or not _is_prometheus(variable.get("datasource")):
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str) and query.strip():
            expr = template_expression(query)
            if expr and not is_logql(expr):
                yield f"{path.name}: variable {variable.get('name')}", expr


# --- what the services expose ---------------------------------------------------------------

_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("_sum", "_count"),
    "info": ("_info",),
}


def exposed_names(exposition: str) -> set[str]:
    """Series names in a /metrics page: every sample's name, plus each declared family (even
    one with no sample yet, like a labelled counter nothing has incremented) with the
    suffixes its type gives it. ``_created`` is kept only where samples show it, since the
    services switch those series off."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            names.add(family)
            base = family.removesuffix("_total") if kind == "counter" else family
            names.update(base + suffix for suffix in _SUFFIXES.get(kind, ()))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def exporter_metrics(path: Path) -> dict[str, str]:
    """``metric_name exporter`` lines; ``#`` starts a comment."""
    listed: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{path}:{number}: expected 'metric_name exporter', got {raw!r}")
        listed[fields[0]] = fields[1]
    return listed
