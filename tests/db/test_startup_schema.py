"""Start-up without migrations refuses a schema other than head, and changes nothing doing so."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bandwise.config import load_settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.errors import SchemaNotAtHead
from bandwise.runtime import start_runtime


def _fingerprint(url: str) -> str | None:
    """Return the SHA-256 of a SQLite file and its journals (None on PostgreSQL)."""
    if make_url(url).get_backend_name() != "sqlite":
        return None
    path = Path(make_url(url).database or "")
    digest = hashlib.sha256(path.read_bytes())
    for suffix in ("-wal", "-shm", "-journal"):
        digest.update(f"{suffix}:{path.with_name(path.name + suffix).exists()}".encode())
    return digest.hexdigest()


async def test_startup_without_migrations_refuses_a_schema_behind_head(
    empty_database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=empty_database_url,
        run_migrations_on_startup=False,
        maintenance_flag_path=tmp_path / "maintenance.flag",
        backup_dir=tmp_path / "backups",
    )
    engine = create_engine(settings, null_pool=True)
    try:
        previous = migrate.history()[-2][0]
        await migrate.upgrade(engine, previous)  # what an older release left behind
        before = _fingerprint(empty_database_url)
        with pytest.raises(SchemaNotAtHead) as refused:
            await start_runtime(settings)
        assert f"at revision {previous}; this code runs on {migrate.head_revision()}" in str(
            refused.value
        )
        assert "bandwise db upgrade" in str(refused.value)
        assert _fingerprint(empty_database_url) == before  # byte for byte, still not WAL
        assert await migrate.current_revision(engine) == previous
    finally:
        await engine.dispose()
