"""Read an import's PostgreSQL target directly (asyncpg), bypassing bandwise's data layer."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]


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
