"""Restore over the current database, restore of an older schema, and the SQLite online copy."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.errors import Conflict, InvalidInput
from bandwise.ops.backup import copy_sqlite_online, create_backup, restore_backup, verify_backup
from bandwise.ops.backup.files import sha256_of
from testkit.backup import drop, fingerprint, seed


async def test_restore_over_current_keeps_the_previous(
    settings: Settings, seeded: AsyncEngine
) -> None:
    original = await fingerprint(seeded)
    manifest = await create_backup(settings, seeded)
    await verify_backup(settings, seeded, manifest.id)
    async with seeded.begin() as connection:  # the operator's mistake
        await connection.execute(text("DELETE FROM users WHERE telegram_id > 10001"))
    damaged = await fingerprint(seeded)

    bystander = create_engine(settings, null_pool=True)  # another process still connected
    held = await bystander.connect()
    try:
        result = await restore_backup(settings, seeded, manifest.id, into_current=True)
    finally:
        with contextlib.suppress(Exception):  # PostgreSQL terminated it; SQLite did not need to
            await held.close()
        await bystander.dispose()

    assert result.replaced_current and result.previous_kept_as
    assert await fingerprint(seeded) == original
    if settings.engine_name == "sqlite":
        kept_engine = create_engine(
            settings, url=f"sqlite+aiosqlite:///{result.previous_kept_as}", null_pool=True
        )
    else:
        kept_engine = create_engine(
            settings,
            url=seeded.url.set(database=result.previous_kept_as).render_as_string(
                hide_password=False
            ),
            null_pool=True,
        )
    try:
        assert await fingerprint(kept_engine) == damaged
    finally:
        await kept_engine.dispose()
        if settings.engine_name == "postgresql":
            drop(settings, result.previous_kept_as)


async def test_restore_of_older_backup_runs_migrations(
    settings: Settings, empty_database_url: str
) -> None:
    old = create_engine(settings, url=empty_database_url, null_pool=True)
    try:
        await migrate.upgrade(old, "0002")
        await seed(old, users=2, per_user=0)  # users only: the models now have later columns
        scoped = settings.model_copy(update={"database_url": SecretStr(empty_database_url)})
        manifest = await create_backup(scoped, old)
        assert manifest.schema_revision == "0002"
        await verify_backup(scoped, old, manifest.id)
        target = (
            str(settings.backup_dir.parent / "upgraded.db")
            if settings.engine_name == "sqlite"
            else "bw_upgraded_restore"
        )

        result = await restore_backup(scoped, old, manifest.id, into=target)

        assert result.migrations_applied and result.schema_revision == migrate.head_revision()
        with pytest.raises(Conflict, match="already exists"):
            await restore_backup(scoped, old, manifest.id, into=target)
    finally:
        await old.dispose()
        if settings.engine_name == "postgresql":
            drop(settings, "bw_upgraded_restore")


async def test_restore_rejects_conflicting_targets(settings: Settings, seeded: AsyncEngine) -> None:
    manifest = await create_backup(settings, seeded)
    await verify_backup(settings, seeded, manifest.id)
    with pytest.raises(InvalidInput, match="either --into"):
        await restore_backup(settings, seeded, manifest.id, into="x", into_current=True)
    if settings.engine_name == "postgresql":
        with pytest.raises(InvalidInput, match="database name"):
            await restore_backup(settings, seeded, manifest.id, into='bad"; DROP')


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_copy_sqlite_online_while_writing(
    settings: Settings, seeded: AsyncEngine, tmp_path: Path
) -> None:
    source = Path(seeded.url.database or "")
    async with seeded.begin() as connection:  # leave rows in the WAL, not yet checkpointed
        await connection.execute(
            text("UPDATE users SET username = 'changed' WHERE telegram_id = 10000")
        )
    destination = tmp_path / "copies" / "copy.db"

    path, digest = copy_sqlite_online(source, destination)

    assert path == destination and digest == sha256_of(destination)
    assert stat.S_IMODE(destination.stat().st_mode) == 0o600
    with sqlite3.connect(destination) as connection:
        assert connection.execute(
            "SELECT username FROM users WHERE telegram_id = 10000"
        ).fetchone() == ("changed",)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["copy.db"]
    with pytest.raises(Conflict, match="already exists"):
        copy_sqlite_online(source, destination)
