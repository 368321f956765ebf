"""Commit durability: the service never asks either engine for less than the server gives.

SQLite runs in WAL mode; ``DB_SQLITE_SYNCHRONOUS`` (default FULL) decides whether each commit
is synced to disk before it returns. PostgreSQL keeps the server's ``synchronous_commit``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bandwise.config import ConfigurationError, Settings, load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from testkit.pg_cluster import PgCluster

# PRAGMA synchronous reports a number: 1 NORMAL, 2 FULL.
SQLITE_LEVELS = {"NORMAL": 1, "FULL": 2}


async def _scalar(settings: Settings, statement: str) -> str:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            return str((await connection.execute(text(statement))).scalar_one())
    finally:
        await engine.dispose()


async def test_commits_are_as_durable_as_the_engine_offers(
    settings: Settings, engine_name: str, request: pytest.FixtureRequest
) -> None:
    if engine_name == "sqlite":
        assert settings.db_sqlite_synchronous == "FULL"
        assert await _scalar(settings, "PRAGMA synchronous") == "2"
        assert await _scalar(settings, "PRAGMA journal_mode") == "wal"
        return
    # The service's connections keep the server's setting: nothing in bandwise lowers it.
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    server_default = cluster.psql("SHOW synchronous_commit")
    assert await _scalar(settings, "SHOW synchronous_commit") == server_default


@pytest.mark.parametrize("mode", ["NORMAL", "FULL", "normal", " full "])
async def test_sqlite_synchronous_setting_applies_to_every_connection(
    mode: str, tmp_path: Path
) -> None:
    path = tmp_path / "durability.db"
    settings = load_settings(database_url=f"sqlite:///{path}", db_sqlite_synchronous=mode)
    expected = SQLITE_LEVELS[mode.strip().upper()]
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as first:
            # A second pooled connection while the first is checked out: the pragma is set on
            # each connection as it opens (each read is its own short transaction).
            levels = [(await first.execute(text("PRAGMA synchronous"))).scalar_one()]
            await first.commit()
            async with engine.connect() as second:
                levels.append((await second.execute(text("PRAGMA synchronous"))).scalar_one())
                await second.commit()
        assert levels == [expected, expected]
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO users (telegram_id, created_at, is_pro) VALUES (7, :t, false)"),
                {"t": "2026-01-01 00:00:00"},
            )
    finally:
        await engine.dispose()
    # The committed row is in the file, read back by a new engine.
    count = await _scalar(settings, "SELECT count(*) FROM users WHERE telegram_id = 7")
    assert count == "1"


def test_sqlite_synchronous_refuses_unknown_modes() -> None:
    with pytest.raises(ConfigurationError, match="DB_SQLITE_SYNCHRONOUS"):
        load_settings(db_sqlite_synchronous="OFF")
