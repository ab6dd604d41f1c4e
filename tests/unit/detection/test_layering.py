"""The detection package depends on nothing above it: services import detection, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import detektor.detection

FORBIDDEN = ("detektor.services", "detektor.pipeline", "detektor.kit.app", "detektor.settings")


def imported_modules(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{source.name}: relative import of {node.module}"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_module_of_detektor_detection_imports_services_or_settings() -> None:
    package = Path(detektor.detection.__file__).parent
    modules = sorted(package.rglob("*.py"))
    assert len(modules) >= 8, modules  # the scan really sees the package
    offenders = {
        f"{source.name}: {name}"
        for source in modules
        for name in imported_modules(source)
        if name.startswith(FORBIDDEN)
    }
    assert not offenders, sorted(offenders)
