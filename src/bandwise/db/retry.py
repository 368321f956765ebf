"""Run idempotent units of work in a transaction, retrying transient failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bandwise import events
from bandwise.config import mask_url
from bandwise.db.errors import error_kind, is_transient, to_domain_error
from bandwise.db.readiness import backoff_delays
from bandwise.errors import BandwiseError

log = logging.getLogger(__name__)
T = TypeVar("T")


async def run_transaction(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = 3,
    retry: bool = True,
) -> T:
    """Run ``work(session)`` in one transaction and commit; retry it when a failure is transient.

    Only pass idempotent work with ``retry=True``: it may run more than once. Driver errors
    leave as domain errors (DatabaseUnavailable, DatabaseBusy, …); domain errors raised by
    ``work`` pass through untouched and roll the transaction back.
    """
    delays = backoff_delays(initial=0.05, maximum=1.0)
    bind = sessions.kw.get("bind")
    target = mask_url(bind.url) if bind is not None else "database"
    for attempt in range(1, attempts + 1):
        try:
            async with sessions() as session, session.begin():
                return await work(session)
        except BandwiseError:
            raise
        except (TimeoutError, DBAPIError, PoolTimeoutError, SQLAlchemyError, OSError) as error:
            kind = error_kind(error)
            if retry and attempt < attempts and is_transient(error):
                delay = next(delays)
                events.emit(events.DatabaseRetried(kind))
                log.warning(
                    "transient database failure (%s), retry %d/%d in %.2f s",
                    kind,
                    attempt,
                    attempts - 1,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            events.emit(events.DatabaseFailed(kind))
            domain = to_domain_error(error, target)
            if attempt > 1:
                domain.message = f"{domain.message} (after {attempt} attempts)"
                domain.args = (domain.message,)
            raise domain from error
    raise AssertionError("unreachable")  # pragma: no cover
