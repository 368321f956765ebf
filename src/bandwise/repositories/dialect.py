"""Pick the dialect-specific INSERT that supports ON CONFLICT (PostgreSQL and SQLite alike)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert_insert(session: AsyncSession, table: Any) -> Any:
    """Return ``insert(table)`` of the session's dialect, with ``on_conflict_do_*`` available."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)
