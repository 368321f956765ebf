"""Importer fixtures: a legacy SQLite file on disk and an empty PostgreSQL target."""

from __future__ import annotations

from pathlib import Path

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
