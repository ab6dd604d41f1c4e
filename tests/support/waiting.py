"""Polling until something a test waits for has happened, with a message when it never does:
``wait_for`` blocks the thread, ``wait_until`` awaits (anyio) while other threads work."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    """Call ``check`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


async def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Await until ``check()`` is true, polling every 50 ms; AssertionError after ``seconds``."""
    try:
        with anyio.fail_after(seconds):
            while not check():  # noqa: ASYNC110 - polls state other threads change
                await anyio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
