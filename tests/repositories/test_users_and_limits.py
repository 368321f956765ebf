"""Users and rate limits: race-free get-or-create and the exact atomic daily limit."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bandwise.db.retry import run_transaction
from bandwise.models import RateLimit, User
from bandwise.repositories import rate_limits, users

BIG_ID = 7_123_456_789  # beyond 2^31, as real Telegram ids are


async def test_get_or_create_is_race_free(sessions: async_sessionmaker[AsyncSession]) -> None:
    async def create(index: int) -> int:
        async def work(session: AsyncSession) -> int:
            user = await users.get_or_create(session, BIG_ID, f"name{index}", "First")
            return user.id

        return await run_transaction(sessions, work, attempts=10)

    ids = await asyncio.gather(*(create(i) for i in range(20)))
    assert len(set(ids)) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1
        stored = await users.get_by_telegram_id(session, BIG_ID)
        assert stored is not None and stored.telegram_id == BIG_ID and stored.first_name == "First"


async def test_get_or_create_keeps_known_names_when_telegram_sends_none(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await users.get_or_create(session, 5, "anna", "Anna")
    async with sessions() as session, session.begin():
        again = await users.get_or_create(session, 5, None, None)
        assert (again.username, again.first_name) == ("anna", "Anna")
    async with sessions() as session, session.begin():
        renamed = await users.get_or_create(session, 5, "anna_b", None)
        assert renamed.username == "anna_b"


async def test_consume_never_exceeds_the_limit_under_concurrency(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        user = await users.get_or_create(session, BIG_ID)
    day = date(2026, 11, 24)

    async def attempt() -> int | None:
        async def work(session: AsyncSession) -> int | None:
            return await rate_limits.consume(session, user.id, day, 3)

        return await run_transaction(sessions, work, attempts=20)

    results = await asyncio.gather(*(attempt() for _ in range(50)))
    granted = sorted(result for result in results if result is not None)
    assert granted == [1, 2, 3]
    async with sessions() as session:
        rows = (await session.scalars(select(RateLimit))).all()
        assert [(row.submission_date, row.submission_count) for row in rows] == [(day, 3)]


async def test_refund_gives_a_check_back_and_unlimited_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    day = date(2026, 1, 1)
    async with sessions() as session, session.begin():
        user = await users.get_or_create(session, 77)
        assert await rate_limits.consume(session, user.id, day, 1) == 1
        assert await rate_limits.consume(session, user.id, day, 1) is None
        await rate_limits.refund(session, user.id, day)
        assert await rate_limits.used(session, user.id, day) == 0
        assert await rate_limits.consume(session, user.id, day, 1) == 1
        for expected in range(2, 6):
            assert await rate_limits.consume(session, user.id, day, None) == expected
