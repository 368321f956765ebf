"""Create → verify → restore, on both engines, against real files and the throwaway server."""

from __future__ import annotations

import asyncio
import stat

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.errors import Conflict
from bandwise.ops.backup import create_backup, list_backups, restore_backup, verify_backup
from testkit.backup import fingerprint


def _target_url(settings: Settings, engine: AsyncEngine, target: str) -> str:
    if settings.engine_name == "sqlite":
        return f"sqlite+aiosqlite:///{target}"
    return engine.url.set(database=target).render_as_string(hide_password=False)


async def test_create_verify_restore_equals_original(
    settings: Settings, seeded: AsyncEngine
) -> None:
    original = await fingerprint(seeded)
    manifest = await create_backup(settings, seeded, label="before upgrade")

    data = manifest.data_path(settings.backup_dir)
    assert data.is_file() and stat.S_IMODE(data.stat().st_mode) == 0o600
    assert not [p for p in settings.backup_dir.iterdir() if p.name.startswith(".")]
    assert manifest.row_counts["users"] == 5 and manifest.row_counts["assessments"] == 15
    assert manifest.max_ids["submissions"] == 15
    assert manifest.schema_revision == migrate.head_revision()
    assert manifest.verify_outcome is None and manifest.label == "before upgrade"
    with pytest.raises(Conflict, match="never verified"):
        await restore_backup(settings, seeded, manifest.id)

    verified = await verify_backup(settings, seeded, manifest.id)
    assert verified.verify_outcome == "passed", verified.verify_detail
    assert [item.id for item in list_backups(settings)] == [manifest.id]
    assert list_backups(settings)[0].verified_at is not None

    target = (
        str(settings.backup_dir.parent / "restored.db")
        if settings.engine_name == "sqlite"
        else "bandwise_restored_copy"
    )
    result = await restore_backup(settings, seeded, manifest.id, into=target)
    restored = create_engine(settings, url=_target_url(settings, seeded, target), null_pool=True)
    try:
        assert await fingerprint(restored) == original
        assert await migrate.is_at_head(restored)
    finally:
        await restored.dispose()
        if settings.engine_name == "postgresql":
            from testkit.backup import drop

            drop(settings, target)
    assert result.target == target and not result.replaced_current


async def test_counts_match_the_archive_while_the_bot_writes(
    settings: Settings, seeded: AsyncEngine
) -> None:
    """Counts and dump share one snapshot: rows written meanwhile are in neither."""
    stop = asyncio.Event()
    first_written = asyncio.Event()
    written = 0

    async def bot() -> None:
        nonlocal written
        while not stop.is_set():
            async with seeded.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO users (telegram_id, username, created_at, is_pro) "
                        "VALUES (:t, 'live', CURRENT_TIMESTAMP, false)"
                    ),
                    {"t": 900_000 + written},
                )
            written += 1
            first_written.set()
            await asyncio.sleep(0.005)  # pacing the writer, not synchronisation

    writer = asyncio.create_task(bot())
    await asyncio.wait_for(first_written.wait(), timeout=30)
    try:
        manifest = await create_backup(settings, seeded)
    finally:
        stop.set()
        await writer
    verified = await verify_backup(settings, seeded, manifest.id)

    assert written > 0
    assert verified.verify_outcome == "passed", verified.verify_detail
