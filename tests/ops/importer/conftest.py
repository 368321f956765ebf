"""Importer fixtures: a legacy SQLite file on disk and an empty PostgreSQL target."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from bandwise.config import Settings, load_settings


@pytest.fixture
def target_url(pg_database: str) -> str:
    """Return the URL of an empty PostgreSQL database (the import target)."""
    return pg_database


@pytest.fixture
def import_settings(target_url: str) -> Settings:
    """Return settings pointing at the target."""
    return load_settings(database_url=target_url, db_connect_timeout=5)


@pytest.fixture
def legacy_path(tmp_path: Path) -> Path:
    """Return where a test writes its legacy SQLite file."""
    return tmp_path / "legacy.db"


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Run one query on ``url`` and return its rows."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def table_counts(url: str) -> dict[str, int]:
    """Return the row count of every table an import writes (0 for a table not there)."""
    names = ("users", "submissions", "rate_limits", "assessments", "import_quarantine")
    existing = {
        row[0]
        for row in await fetch(
            url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    }
    return {
        name: int((await fetch(url, f"SELECT count(*) FROM {name}"))[0][0])
        if name in existing
        else 0
        for name in names
    }
