"""Keep the alert outbox in the database (``alert_outbox``) so a restart loses no message.

The outbox works in memory and writes through to the database whenever it answers: alerts
about the database itself must go out while it is down, and are saved once it is back.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bandwise.config import Settings
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.errors import DatabaseUnavailable
from bandwise.models import AlertDelivery
from bandwise.ops.monitoring.notify import AlertMessage, Destination
from bandwise.ops.monitoring.outbox import Delivery
from bandwise.repositories import alert_outbox

log = logging.getLogger(__name__)

# Done messages kept besides each alert's newest (for the operator's page after a restart).
KEEP_DONE = 50
# SQLite: a writer holding the file's lock (an import, a backup) must not hold up the alerter
# for the whole DB_SQLITE_BUSY_TIMEOUT; the outbox works in memory meanwhile.
SQLITE_BUSY_SECONDS = 1.0
# After a failed call, the database is not asked again for this long (a blackholed server
# would otherwise cost a connect timeout on every call of every collection).
RETRY_AFTER_SECONDS = 5.0


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _message(row: AlertDelivery) -> AlertMessage | None:
    """Return the message of ``row``; None (logged) when this code cannot read it any more."""
    try:
        return AlertMessage(**row.message)
    except (TypeError, ValueError) as error:
        log.warning("alert outbox row %d skipped: unreadable message (%s)", row.id, error)
        return None


async def _write(session: AsyncSession, delivery: Delivery) -> int:
    """Insert or update the row of ``delivery``; return its id."""
    finished = None if delivery.finished_at is None else _moment(delivery.finished_at)
    pending = sorted(destination.label for destination in delivery.pending)
    error = delivery.last_error or delivery.note
    if delivery.row_id is not None:
        await alert_outbox.record_progress(
            session,
            delivery.row_id,
            pending=pending,
            attempts=delivery.attempts,
            last_error=error,
            done_at=finished,
        )
        return delivery.row_id
    return await alert_outbox.add(
        session,
        alert=delivery.message.alert,
        status=delivery.message.status,
        message=dataclasses.asdict(delivery.message),
        pending=pending,
        attempts=delivery.attempts,
        last_error=error,
        queued_at=_moment(delivery.queued_at),
        done_at=finished,
    )


class OutboxStore:
    """Save, reload and prune the outbox's deliveries on ``engine``'s database."""

    def __init__(self, engine: AsyncEngine, *, owns_engine: bool = False) -> None:
        self._engine = engine
        self._owns_engine = owns_engine
        self._sessions = create_sessionmaker(engine)
        self._quiet_until = 0.0
        self._failing: str | None = None

    @classmethod
    def open(cls, settings: Settings, url: str) -> OutboxStore:
        """Return a store on ``url`` with an engine of its own (closed by ``close``)."""
        busy = min(settings.db_sqlite_busy_timeout, SQLITE_BUSY_SECONDS)
        quick = settings.model_copy(update={"db_sqlite_busy_timeout": busy})
        return cls(create_engine(quick, url=url, null_pool=True), owns_engine=True)

    async def close(self) -> None:
        """Release the engine this store opened."""
        if self._owns_engine:
            await self._engine.dispose()

    def _check(self) -> None:
        if time.monotonic() < self._quiet_until:
            raise DatabaseUnavailable(f"alert outbox not saved: {self._failing}")

    def _failed(self, error: Exception) -> DatabaseUnavailable:
        why = str(getattr(error, "orig", None) or error).strip().splitlines()
        reason = why[0] if why and why[0] else type(error).__name__
        if self._failing is None:
            log.warning("alert outbox kept in memory only (database: %s)", reason)
        self._failing = reason
        self._quiet_until = time.monotonic() + RETRY_AFTER_SECONDS
        return DatabaseUnavailable(f"alert outbox not saved: {reason}")

    def _recovered(self) -> None:
        if self._failing is not None:
            log.info("alert outbox saved to the database again")
        self._failing = None

    async def save(self, deliveries: Sequence[Delivery]) -> None:
        """Write every delivery's state in one transaction (new ones in order, so ids too)."""
        if not deliveries:
            return
        self._check()
        try:
            async with self._sessions() as session, session.begin():
                new_ids = [await _write(session, delivery) for delivery in deliveries]
                if any(delivery.finished_at is not None for delivery in deliveries):
                    await alert_outbox.prune(session, KEEP_DONE)
        except Exception as error:
            raise self._failed(error) from error
        self._recovered()
        for delivery, row_id in zip(deliveries, new_ids, strict=True):  # only once committed
            delivery.row_id = row_id
            delivery.saved = True

    async def _read(
        self, query: Callable[[AsyncSession], Awaitable[list[AlertDelivery]]]
    ) -> list[AlertDelivery]:
        self._check()
        try:
            async with self._sessions() as session:
                rows = await query(session)
        except Exception as error:
            raise self._failed(error) from error
        self._recovered()
        return rows

    async def undelivered(self) -> list[Delivery]:
        """Return the deliveries not done yet, in their order."""
        return [
            Delivery(
                message,
                {Destination.from_label(label) for label in row.pending},
                attempts=row.attempts,
                last_error=row.last_error,
                row_id=row.id,
                queued_at=row.queued_at.timestamp(),
                saved=True,
            )
            for row in await self._read(alert_outbox.undelivered)
            if (message := _message(row)) is not None
        ]

    async def latest_messages(self) -> list[tuple[AlertMessage, float]]:
        """Return each alert's newest message with the time it was queued."""
        return [
            (message, row.queued_at.timestamp())
            for row in await self._read(alert_outbox.latest_per_alert)
            if (message := _message(row)) is not None
        ]
