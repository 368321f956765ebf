"""Queries on ``rate_limits``: the atomic check-and-consume behind the daily limit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bandwise.models import RateLimit, utcnow
from bandwise.repositories.dialect import upsert_insert


async def consume(session: AsyncSession, user_id: int, day: date, limit: int | None) -> int | None:
    """Count one check for (user, day) unless ``limit`` is reached; return the new count.

    One statement (upsert with a conditional increment), so concurrent requests, from any
    number of processes, can never push the count past ``limit``. Returns None when refused.
    ``limit=None`` counts without a ceiling.
    """
    insert = upsert_insert(session, RateLimit)
    statement = insert.values(
        user_id=user_id, submission_date=day, submission_count=1, created_at=utcnow()
    )
    increment = {"submission_count": RateLimit.submission_count + 1}
    if limit is None:
        statement = statement.on_conflict_do_update(
            index_elements=[RateLimit.user_id, RateLimit.submission_date], set_=increment
        )
    else:
        if limit < 1:
            return None
        statement = statement.on_conflict_do_update(
            index_elements=[RateLimit.user_id, RateLimit.submission_date],
            set_=increment,
            where=RateLimit.submission_count < limit,
        )
    result = await session.execute(statement.returning(RateLimit.submission_count))
    count = result.scalar_one_or_none()
    return None if count is None else int(count)


async def refund(session: AsyncSession, user_id: int, day: date) -> None:
    """Give back one check of (user, day), e.g. when scoring failed."""
    await session.execute(
        update(RateLimit)
        .where(
            RateLimit.user_id == user_id,
            RateLimit.submission_date == day,
            RateLimit.submission_count > 0,
        )
        .values(submission_count=RateLimit.submission_count - 1)
    )


async def used(session: AsyncSession, user_id: int, day: date) -> int:
    """Return how many checks (user, day) has consumed."""
    count = await session.scalar(
        select(RateLimit.submission_count).where(
            RateLimit.user_id == user_id, RateLimit.submission_date == day
        )
    )
    return int(count or 0)
