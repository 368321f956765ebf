"""Smoke test of the new PostgreSQL database before it takes traffic."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.assessment.offline import OfflineAssessor
from bandwise.config import Settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine, create_sessionmaker
from bandwise.db.readiness import wait_for_database
from bandwise.errors import NotFound, OperationFailed
from bandwise.models import Base, ImportQuarantine, TaskType, User, utcnow
from bandwise.ops.importer.report import QuarantinedRow
from bandwise.ops.importer.tables import TABLES
from bandwise.repositories import assessments, submissions, users
from bandwise.services.history import History, get_history
from bandwise.wording import plural

# Set-aside ids looked up per query (a file may hold thousands of bad rows).
CHECK_BATCH = 1000
SMOKE_TELEGRAM_ID = 2**62 + 4242  # far beyond real Telegram ids; never committed anyway
SMOKE_ESSAY = (
    "Some people think that technology makes life easier, while others believe it creates new "
    "problems. In my opinion, the benefits clearly outweigh the drawbacks because modern tools "
    "save time, connect families and give students access to knowledge that was once rare. "
) * 2


async def round_trip(engine: AsyncEngine) -> None:
    """Write a user, submission and assessment in a transaction, read them back, roll back."""
    result = OfflineAssessor().assess_sync(SMOKE_ESSAY, TaskType.TASK_2)
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


def as_imported(value: Any) -> Any:
    """Return a value read from SQLite as the import stores it in PostgreSQL.

    The import's documented text conversions (docs/import-sqlite.md): NUL bytes removed (text
    and JSON strings) and invalid Unicode replaced by U+FFFD. Everything else the import
    respells (enums, datetimes, suggestions) the in-place upgrade respells the same way.
    """
    if isinstance(value, str):
        value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value)
        return value
    if isinstance(value, list | tuple):
        return type(value)(as_imported(item) for item in value)
    if isinstance(value, dict):
        return {as_imported(key): as_imported(item) for key, item in value.items()}
    return value


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
        views[0] = as_imported(views[0])  # compared under the import's documented conversions
        if views[0] != views[1]:
            raise OperationFailed(
                f"smoke test: history of telegram_id {telegram_id} differs between SQLite and "
                f"PostgreSQL"
            )


def ids_by_table(set_aside: Sequence[QuarantinedRow]) -> dict[str, list[int]]:
    """Group the ids of the rows the import set aside by table; refuse one without an id."""
    grouped: dict[str, list[int]] = {}
    for row in set_aside:
        if row.table not in TABLES or row.source_id is None:
            raise OperationFailed(
                f"smoke test: cannot match the set-aside row {row.table} id={row.source_id}"
            )
        grouped.setdefault(row.table, []).append(row.source_id)
    return grouped


def prune_set_aside(copy: Path, set_aside: dict[str, list[int]]) -> None:
    """Delete from the smoke test's own copy the rows the import set aside, by table and id.

    The import stored them in ``import_quarantine``, not in their tables; without them the
    copy converts in place exactly as the import converted the rest.
    """
    with contextlib.closing(sqlite3.connect(copy)) as connection, connection:
        for table, ids in set_aside.items():
            connection.executemany(f'DELETE FROM "{table}" WHERE id = ?', [(i,) for i in ids])


async def check_quarantined(target: AsyncEngine, set_aside: dict[str, list[int]]) -> None:
    """Raise OperationFailed unless every set-aside row is in ``import_quarantine`` only."""
    async with target.connect() as connection:
        stored = Counter(
            (row.source_table, row.source_id)
            for row in await connection.execute(
                select(ImportQuarantine.source_table, ImportQuarantine.source_id)
            )
        )
        wanted = Counter((table, i) for table, ids in set_aside.items() for i in ids)
        missing = wanted - stored
        if missing:
            table, source_id = next(iter(missing))
            raise OperationFailed(
                f"smoke test: the set-aside row {table} id={source_id} is not in import_quarantine"
            )
        for table, ids in set_aside.items():
            model = Base.metadata.tables[table]
            for start in range(0, len(ids), CHECK_BATCH):
                imported = await connection.scalar(
                    select(func.min(model.c.id)).where(
                        model.c.id.in_(ids[start : start + CHECK_BATCH])
                    )
                )
                if imported is not None:
                    raise OperationFailed(
                        f"smoke test: the set-aside row {table} id={imported} was imported"
                    )


async def smoke_test(
    settings: Settings,
    frozen_copy: Path,
    postgres_url: str,
    sample: int,
    *,
    set_aside: Sequence[QuarantinedRow] = (),
) -> str:
    """Check readiness, a write round trip, the set-aside rows and sampled histories.

    ``set_aside``: the rows the import quarantined; they are compared where they went
    (``import_quarantine``) and left out of the histories. Returns a summary.
    """
    target = create_engine(settings, url=postgres_url, null_pool=True)
    # The frozen copy may still be in the legacy layout: read it through the current schema.
    source = create_engine(settings, url=f"sqlite:///{frozen_copy}", null_pool=True)
    try:
        await wait_for_database(target, timeout=10)
        if not await migrate.is_at_head(target):
            raise OperationFailed("smoke test: the PostgreSQL schema is not at head")
        await round_trip(target)
        grouped = ids_by_table(set_aside)
        await check_quarantined(target, grouped)
        await asyncio.to_thread(prune_set_aside, frozen_copy, grouped)
        # Anything the in-place reading would still set aside, the import did not: refuse.
        await migrate.upgrade(source)
        telegram_ids = await sample_telegram_ids(source, sample)
        await compare_histories(source, target, telegram_ids)
    finally:
        await target.dispose()
        await source.dispose()
    quarantined = f", {plural(len(set_aside), 'set-aside row')} in import_quarantine"
    return (
        f"ready, round trip rolled back{quarantined if set_aside else ''}, "
        f"{len(telegram_ids)} sampled histories identical"
    )
