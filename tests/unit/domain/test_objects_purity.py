"""The domain stays pure: its modules, the object lifecycle's among them, import only the
standard library and each other (ARCHITECTURE.md: the domain imports no I/O library)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import detektor.domain

DOMAIN = Path(detektor.domain.__file__).resolve().parent
# Standard modules that do I/O or reach outside the process have no place in the domain.
IO_STDLIB = {"os", "io", "socket", "subprocess", "pathlib", "shutil", "asyncio", "time", "random"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_domain_modules_import_only_the_standard_library_and_the_domain() -> None:
    modules = sorted(DOMAIN.glob("*.py"))
    assert any(p.name == "objects.py" for p in modules)
    offending = {}
    for path in modules:
        bad = {
            name
            for name in _imports(path)
            if not name.startswith("detektor.domain")
            and (
                name.split(".")[0] not in sys.stdlib_module_names or name.split(".")[0] in IO_STDLIB
            )
            and name != "__future__"
        }
        if bad:
            offending[path.name] = sorted(bad)
    assert offending == {}
