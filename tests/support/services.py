"""Finding the real servers tests need: skip loudly locally, fail under CI=true."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(what: str, how: str) -> None:
    """A required server or binary is absent: fail in CI, skip with a loud reason locally."""
    message = f"{what} is not available ({how})"
    if IN_CI:
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(f"SKIPPED, NOT TESTED: {message}")


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"the binary {name!r}", f"install the Debian package {package}; .ci/run does")
        raise AssertionError("unreachable")
    return path


def require_port(host: str, port: int, what: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError as exc:
        missing(f"{what} on {host}:{port}", str(exc))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
