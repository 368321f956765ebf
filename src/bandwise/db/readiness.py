"""Wait for the database at start-up: exponential backoff with jitter, bounded in time."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.db.engine import describe_target, reader
from bandwise.db.errors import Diagnosis, diagnose, unavailable
from bandwise.wording import plural

log = logging.getLogger(__name__)


def backoff_delays(
    initial: float = 0.1,
    maximum: float = 5.0,
    factor: float = 2.0,
    jitter: float = 0.25,
    rng: Callable[[], float] = random.random,
) -> Iterator[float]:
    """Yield ever longer waits (×``factor`` up to ``maximum``), each jittered by ±``jitter``."""
    delay = initial
    while True:
        yield delay * (1 - jitter + 2 * jitter * rng())
        delay = min(delay * factor, maximum)


async def ping(engine: AsyncEngine, timeout: float) -> None:
    """Run one ``SELECT 1`` round trip, bounded by ``timeout`` seconds."""
    # Start-up waits before it migrates: on SQLite the probe must not switch the file to WAL,
    # or a legacy file whose upgrade is then refused would not be byte-identical any more; nor
    # may it wait for the write lock (a health check under a long write would hang).

    async def _round_trip() -> None:
        async with reader(engine) as probe, probe.connect() as connection:
            await connection.execute(text("SELECT 1"))

    await asyncio.wait_for(_round_trip(), timeout)


def _cause(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text_ = str(original).strip().splitlines()
    return text_[0] if text_ and text_[0] else type(original).__name__


async def wait_for_database(
    engine: AsyncEngine, timeout: float, *, attempt_timeout: float = 5.0
) -> int:
    """Wait until the database answers; return the attempts it took.

    Raises DatabaseUnavailable naming the cause, the masked target and what to try: at once when
    waiting cannot help (a wrong password, a missing database), else after ``timeout`` seconds.
    """
    target = describe_target(engine)
    deadline = time.monotonic() + timeout
    delays = backoff_delays()
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        try:
            await ping(engine, max(0.1, min(attempt_timeout, remaining)))
        except Exception as error:
            cause = _cause(error)
            diagnosis = diagnose(error, target) or Diagnosis(
                cause, "check that the database is running and reachable"
            )
            if diagnosis.permanent:
                raise unavailable(diagnosis, target) from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                attempts = plural(attempt, "attempt")
                raise unavailable(
                    replace(
                        diagnosis,
                        cause=f"{diagnosis.cause}; gave up waiting for the database after "
                        f"{attempts} in {timeout:g} s",
                    ),
                    target,
                ) from None
            delay = min(next(delays), remaining)
            log.info(
                "database not ready (attempt %d): %s; next try in %.2f s", attempt, cause, delay
            )
            await asyncio.sleep(delay)
        else:
            if attempt > 1:
                log.info("database ready after %d attempts", attempt)
            return attempt
