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
    """Return the row count of every table an import writes."""
    names = ("users", "submissions", "rate_limits", "assessments", "import_quarantine")
    rows = await fetch(url, " UNION ALL ".join(f"SELECT '{n}', count(*) FROM {n}" for n in names))
    return {row[0]: int(row[1]) for row in rows}
