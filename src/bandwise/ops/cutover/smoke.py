"""Smoke test of the new PostgreSQL database before it takes traffic."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.assessment.heuristic import HeuristicAssessor
from bandwise.config import Settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.db.readiness import wait_for_database
from bandwise.errors import NotFound, OperationFailed
from bandwise.models import TaskType, User, utcnow
from bandwise.repositories import assessments, submissions, users
from bandwise.services.history import History, get_history

SMOKE_TELEGRAM_ID = 2**62 + 4242  # far beyond real Telegram ids; never committed anyway
SMOKE_ESSAY = (
    "Some people think that technology makes life easier, while others believe it creates new "
    "problems. In my opinion, the benefits clearly outweigh the drawbacks because modern tools "
    "save time, connect families and give students access to knowledge that was once rare. "
) * 2


async def round_trip(engine: AsyncEngine) -> None:
    """Write a user, submission and assessment in a transaction, read them back, roll back."""
    result = HeuristicAssessor().assess_sync(SMOKE_ESSAY, TaskType.TASK_2)
    async with create_sessionmaker(engine)() as session:
        transaction = await session.begin()
        try:
            user = await users.get_or_create(session, SMOKE_TELEGRAM_ID, "smoke", "Smoke")
            stored = await submissions.create(
                session, user.id, SMOKE_ESSAY, TaskType.TASK_2, 60, utcnow()
            )
            await assessments.create(session, stored.id, **result.column_values())
            again = await assessments.get_for_submission(session, stored.id)
            if again is None or again.overall_band_score != result.overall:
                raise OperationFailed("smoke test: the assessment written was not read back")
        finally:
            await transaction.rollback()


def _history_view(history: History) -> list[Any]:
    def band(value: Decimal | None) -> str | None:
        return None if value is None else str(Decimal(value).normalize())

    items = [
        (
            item.submission.id,
            item.submission.submitted_at.isoformat(),
            item.submission.task_type.value,
            item.submission.word_count,
            item.submission.processing_status.value,
            None
            if item.assessment is None
            else (
                band(item.assessment.overall_band_score),
                band(item.assessment.task_achievement_score),
                list(item.assessment.improvement_suggestions),
            ),
        )
        for item in history.items
    ]
    trend = history.trend
    return [items, trend.count, band(trend.best), band(trend.average), band(trend.change)]


async def sample_telegram_ids(engine: AsyncEngine, size: int, seed: int = 0) -> list[int]:
    """Return up to ``size`` Telegram ids: the newest users plus a seeded random sample."""
    async with create_sessionmaker(engine)() as session:
        ids = list(await session.scalars(select(User.telegram_id).order_by(User.id)))
    newest = ids[-(size // 2) :] if size // 2 else []
    rest = [telegram_id for telegram_id in ids if telegram_id not in set(newest)]
    sampled = random.Random(seed).sample(rest, min(len(rest), size - len(newest)))
    return newest + sampled


async def compare_histories(
    source: AsyncEngine, target: AsyncEngine, telegram_ids: list[int]
) -> None:
    """Raise OperationFailed unless every sampled user's history is identical on both."""
    source_sessions, target_sessions = create_sessionmaker(source), create_sessionmaker(target)
    for telegram_id in telegram_ids:
        views: list[list[Any] | None] = []
        for sessions in (source_sessions, target_sessions):
            try:
                views.append(_history_view(await get_history(sessions, telegram_id, limit=20)))
            except NotFound:
                views.append(None)
        if views[0] != views[1]:
            raise OperationFailed(
                f"smoke test: history of telegram_id {telegram_id} differs between SQLite and "
                f"PostgreSQL"
            )


async def smoke_test(settings: Settings, frozen_copy: Path, postgres_url: str, sample: int) -> str:
    """Check readiness, a write round trip and sampled histories; return a summary."""
    target = create_engine(settings, url=postgres_url, null_pool=True)
    # The frozen copy may still be in the legacy layout: read it through the current schema.
    source = create_engine(settings, url=f"sqlite:///{frozen_copy}", null_pool=True)
    try:
        await wait_for_database(target, timeout=10)
        if not await migrate.is_at_head(target):
            raise OperationFailed("smoke test: the PostgreSQL schema is not at head")
        await round_trip(target)
        await migrate.upgrade(source)
        telegram_ids = await sample_telegram_ids(source, sample)
        await compare_histories(source, target, telegram_ids)
    finally:
        await target.dispose()
        await source.dispose()
    return f"ready, round trip rolled back, {len(telegram_ids)} sampled histories identical"
