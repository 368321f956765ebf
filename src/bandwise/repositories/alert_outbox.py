"""Queries on ``alert_outbox``: the alerter's messages, kept until delivered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bandwise.models import AlertDelivery


async def add(
    session: AsyncSession,
    *,
    alert: str,
    status: str,
    message: dict[str, Any],
    pending: list[str],
    attempts: int,
    last_error: str | None,
    queued_at: datetime,
    done_at: datetime | None,
) -> int:
    """Store one message with the destinations it has still to reach; return its id."""
    row = AlertDelivery(
        alert=alert,
        status=status,
        message=message,
        pending=pending,
        attempts=attempts,
        last_error=last_error,
        queued_at=queued_at,
        done_at=done_at,
    )
    session.add(row)
    await session.flush()
    return row.id


async def record_progress(
    session: AsyncSession,
    row_id: int,
    *,
    pending: list[str],
    attempts: int,
    last_error: str | None,
    done_at: datetime | None,
) -> None:
    """Record what is left to deliver of message ``row_id`` (``done_at``: nothing is)."""
    await session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == row_id)
        .values(pending=pending, attempts=attempts, last_error=last_error, done_at=done_at)
    )


async def undelivered(session: AsyncSession) -> list[AlertDelivery]:
    """Return the messages not yet done, oldest first (the delivery order)."""
    rows = await session.scalars(
        select(AlertDelivery).where(AlertDelivery.done_at.is_(None)).order_by(AlertDelivery.id)
    )
    return list(rows)


async def latest_per_alert(session: AsyncSession) -> list[AlertDelivery]:
    """Return the newest message of each alert (where each alert stood when last told)."""
    newest = select(func.max(AlertDelivery.id)).group_by(AlertDelivery.alert)
    rows = await session.scalars(select(AlertDelivery).where(AlertDelivery.id.in_(newest)))
    return list(rows)


async def prune(session: AsyncSession, keep: int) -> int:
    """Delete done messages except the ``keep`` newest and each alert's newest; return how many."""
    newest_per_alert = select(func.max(AlertDelivery.id)).group_by(AlertDelivery.alert)
    newest = select(AlertDelivery.id).order_by(AlertDelivery.id.desc()).limit(keep)
    result = await session.execute(
        delete(AlertDelivery).where(
            AlertDelivery.done_at.is_not(None),
            AlertDelivery.id.not_in(newest_per_alert),
            AlertDelivery.id.not_in(newest),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
