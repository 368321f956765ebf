"""Failure modes: disk full, pg_dump missing or too old, server unreachable — no partial backups."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db.engine import create_engine
from bandwise.errors import DatabaseUnavailable, OperationFailed
from bandwise.ops.backup import create_backup, list_backups
from bandwise.ops.backup.pgtools import PgTools, check_compatible, find_pg_tools


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """Mount a 256 KiB tmpfs (root only) and unmount it afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs for the disk-full test needs root")
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def _bulk(engine: AsyncEngine) -> None:
    # Random (incompressible) text well beyond the 256 KiB of the tiny file system.
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE submissions SET text = text || :noise"),
            {"noise": os.urandom(40_000).hex()},
        )


async def test_disk_full_leaves_no_partial_backup(
    settings: Settings, seeded: AsyncEngine, tiny_filesystem: Path
) -> None:
    await _bulk(seeded)
    cramped = settings.model_copy(update={"backup_dir": tiny_filesystem / "backups"})

    with pytest.raises(OperationFailed, match="disk full"):
        await create_backup(cramped, seeded)

    assert list(cramped.backup_dir.iterdir()) == []
    assert list_backups(cramped) == []


@pytest.mark.parametrize("engine_name", ["postgresql"], indirect=True)
async def test_pg_dump_missing_is_a_clear_error(
    settings: Settings, seeded: AsyncEngine, tmp_path: Path
) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    without_tools = settings.model_copy(update={"backup_pg_bindir": empty})

    with pytest.raises(
        OperationFailed, match=r"pg_dump/pg_restore not found \(searched .*no-tools\)"
    ):
        await create_backup(without_tools, seeded)
    assert list_backups(settings) == []


def test_pg_dump_older_than_server_is_refused() -> None:
    tools = find_pg_tools()
    check_compatible(tools, tools.major)
    older = PgTools(bindir=tools.bindir, major=tools.major - 1, version="old")
    with pytest.raises(OperationFailed, match=f"older than the PostgreSQL {tools.major} server"):
        check_compatible(older, tools.major)


@pytest.mark.parametrize("engine_name", ["postgresql"], indirect=True)
async def test_unreachable_server_is_a_clear_error(settings: Settings) -> None:
    from testkit.pg_cluster import free_port

    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere_{uuid.uuid4().hex[:6]}"
    engine = create_engine(settings, url=url, null_pool=True)
    try:
        with pytest.raises(DatabaseUnavailable, match="connection refused"):
            await create_backup(settings, engine)
    finally:
        await engine.dispose()
    assert list_backups(settings) == []
    assert not any(settings.backup_dir.iterdir())
