"""No module of detektor imports itself back through others, not even from inside a function.

A cycle hidden in a function-level import (as ``sources`` and ``synthetic`` once had) works
until someone moves the import to the top; it also means two modules own one concept.
"""

from __future__ import annotations

import ast
from pathlib import Path

import detektor

ROOT = Path(detektor.__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the detektor modules it imports, at any depth of its code."""
    paths = {module_name(p): p for p in (ROOT / "detektor").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in paths else node.module)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in paths and d != name}
    return graph


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if there is one (depth-first)."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for dep in sorted(graph[node]):
            if dep == start:
                return [*path, start]
            if dep not in seen:
                seen.add(dep)
                stack.append((dep, [*path, dep]))
    return None


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "detektor.services.capture.synthetic" in graph["detektor.services.capture.sources"]


def test_no_module_imports_itself_back() -> None:
    graph = import_graph()
    cycles = [c for name in sorted(graph) if (c := cycle_through(graph, name))]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
