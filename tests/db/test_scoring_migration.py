"""Revision 0005 (scoring columns) upgrades and downgrades on both engines, keeping old rows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.db import migrate

MOMENT = datetime(2026, 12, 1, tzinfo=UTC)


async def columns(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda sync: inspect(sync).get_columns(table))
    return {column["name"] for column in found}


async def test_scoring_revision_round_trip_keeps_rows(engine: AsyncEngine) -> None:
    assert migrate.head_revision() == "0006_alert_outbox"
    await migrate.downgrade(engine, "0004")
    assert "prompt" not in await columns(engine, "submissions")
    assert "band_low" not in await columns(engine, "assessments")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO users (id, telegram_id, created_at, is_pro) VALUES (1, 7, :t, false)"
            ),
            {"t": MOMENT},
        )
        await connection.execute(
            text(
                "INSERT INTO submissions (id, user_id, text, task_type, word_count, submitted_at,"
                " processing_status) VALUES (1, 1, 'an essay', 'task_2', 2, :t, 'completed')"
            ),
            {"t": MOMENT},
        )
    await migrate.upgrade(engine)
    assert await migrate.current_revision(engine) == "0006_alert_outbox"
    assert {"prompt"} <= await columns(engine, "submissions")
    assert {"band_low", "band_high", "flagged", "content_hash"} <= await columns(
        engine, "assessments"
    )
    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT text, prompt FROM submissions"))).one()
    assert tuple(row) == ("an essay", None)
