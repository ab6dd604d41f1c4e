"""Waiting for the broker's acknowledgements of the futures ``MqttLink.send`` returns."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def acked(futures: list[asyncio.Future[None]], timeout_s: float) -> None:
    """Wait for the broker's ack of every message (cheaper than gather + wait_for: no task)."""
    try:
        async with asyncio.timeout(timeout_s):
            for fut in futures:
                await fut
    finally:
        for fut in futures:
            succeeded(fut)  # marks every failure as seen, so none is reported twice


def succeeded(fut: asyncio.Future[None]) -> bool:
    return fut.done() and not fut.cancelled() and fut.exception() is None


def quiet(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("publishing a state message failed: %s", fut.exception())


def quietly(futures: list[asyncio.Future[None]]) -> None:
    """Fire and forget: a failure is logged, not raised (the republish after a reconnect
    repairs what was lost)."""
    for fut in futures:
        fut.add_done_callback(quiet)
