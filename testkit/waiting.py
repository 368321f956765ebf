"""Wait for a condition a test can observe, failing clearly when it never comes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

CHECK_EVERY = 0.02  # how often an observed condition is looked at again


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Return as soon as ``condition()`` holds; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(CHECK_EVERY)


async def wait_until_async(
    condition: Callable[[], Awaitable[bool]], *, timeout: float, what: str
) -> None:
    """Return as soon as ``await condition()`` holds; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(CHECK_EVERY)
