"""Backups belong to the database they were taken from: a shared BACKUP_DIR is not confusing."""

from __future__ import annotations

import json
from pathlib import Path

from bandwise.ops.monitoring.backups import backup_origin, list_backups


def _manifest(directory: Path, backup_id: str, engine: str | None, database: str | None) -> None:
    manifest: dict[str, object] = {
        "id": backup_id,
        "created_at": f"2026-11-{backup_id[-2:]}T03:00:00Z",
        "size_bytes": 1,
        "duration_seconds": 1.0,
        "verified_at": None,
        "verify_outcome": None,
    }
    if engine and database:
        manifest |= {"engine": engine, "database": database}
    (directory / f"{backup_id}.json").write_text(json.dumps(manifest))


def test_each_database_sees_only_its_own_backups(tmp_path: Path) -> None:
    _manifest(tmp_path, "sqlite-24", "sqlite", "bandwise.db")
    _manifest(tmp_path, "postgres-23", "postgresql", "bandwise")
    _manifest(tmp_path, "other-pg-25", "postgresql", "elsewhere")
    _manifest(tmp_path, "unlabelled-22", None, None)
    postgres = backup_origin("postgresql+asyncpg://bandwise:pw@db:5432/bandwise")
    sqlite = backup_origin("sqlite+aiosqlite:///data/bandwise.db")
    assert postgres == ("postgresql", "bandwise") and sqlite == ("sqlite", "bandwise.db")
    assert [r.backup_id for r in list_backups(tmp_path, postgres)] == [
        "postgres-23",
        "unlabelled-22",  # a manifest that does not say where it came from is still shown
    ]
    assert [r.backup_id for r in list_backups(tmp_path, sqlite)] == ["sqlite-24", "unlabelled-22"]
    assert len(list_backups(tmp_path)) == 4
