"""Revision 0006 (the alert outbox) upgrades and downgrades on both engines."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.db import migrate


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_alert_outbox_revision_round_trip(engine: AsyncEngine) -> None:
    assert migrate.head_revision() == "0006_alert_outbox"
    assert "alert_outbox" in await table_names(engine)
    await migrate.downgrade(engine, "0005_scoring")
    assert "alert_outbox" not in await table_names(engine)
    assert await migrate.current_revision(engine) == "0005_scoring"
    await migrate.upgrade(engine)
    assert "alert_outbox" in await table_names(engine)
    assert await migrate.schema_drift(engine) == []
