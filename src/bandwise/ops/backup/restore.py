"""Restore a verified backup into a new database, or over the current one on request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db import migrate
from bandwise.db.engine import is_sqlite
from bandwise.errors import BackupDamaged, Conflict, DatabaseError, InvalidInput, OperationFailed
from bandwise.ops.backup.dump import encryption_key
from bandwise.ops.backup.files import describe_os_error, discard, partial_path, publish
from bandwise.ops.backup.manifest import BackupManifest, read_manifest, utcnow
from bandwise.ops.backup.pgtools import find_pg_tools
from bandwise.ops.backup.scratch import (
    MAINTENANCE_DATABASE,
    admin_engine,
    check_database_name,
    database_exists,
    drop_database,
    execute_admin,
    long_running_engine,
    restore_into,
    url_for,
)
from bandwise.ops.backup.sqlite_copy import check_integrity, online_copy
from bandwise.ops.backup.verify import check_file, write_plaintext_copy

log = logging.getLogger(__name__)

SWAP_ATTEMPTS = 3


@dataclass
class RestoreResult:
    """Where a backup was restored, what replaced what, and which migrations ran."""

    backup_id: str
    engine: str
    target: str
    replaced_current: bool = False
    previous_kept_as: str | None = None
    migrations_applied: list[str] = field(default_factory=list)
    schema_revision: str | None = None
    duration_seconds: float = 0.0


def _admit(settings: Settings, manifest: BackupManifest, force: bool) -> Path:
    """Return the data file when the backup may be restored; refuse otherwise."""
    if not manifest.is_verified and not force:
        state = (
            "failed verification" if manifest.verify_outcome == "failed" else "was never verified"
        )
        raise Conflict(
            f"backup {manifest.id} {state}; run `bandwise backup verify {manifest.id}` first "
            "(or pass --force to restore it anyway)"
        )
    try:
        return check_file(settings.backup_dir, manifest)
    except BackupDamaged:
        if not force:
            raise
        log.warning("restoring backup %s despite a checksum mismatch (--force)", manifest.id)
        return manifest.data_path(settings.backup_dir)


async def restore_backup(
    settings: Settings,
    engine: AsyncEngine,
    backup_id: str,
    *,
    into: str | None = None,
    into_current: bool = False,
    force: bool = False,
) -> RestoreResult:
    """Restore ``backup_id`` into a new database (``into``) or over the current one.

    Refuses an unverified or failing backup unless ``force``; runs the schema migrations when
    the backup is older than the code. Over the current database the previous one is kept
    (renamed) so that the operator can go back.
    """
    if into and into_current:
        raise InvalidInput("choose either --into NAME or --into-current, not both", field="into")
    manifest = read_manifest(settings.backup_dir, backup_id)
    path = _admit(settings, manifest, force)
    key = encryption_key(settings)
    started = time.monotonic()
    try:
        if manifest.engine == "sqlite":
            result = await _restore_sqlite(
                settings, engine, manifest, path, key, into, into_current
            )
        else:
            result = await _restore_postgres(
                settings, engine, manifest, path, key, into, into_current
            )
    except OSError as error:
        raise describe_os_error(error, Path(into) if into else settings.backup_dir) from error
    result.duration_seconds = round(time.monotonic() - started, 3)
    log.info(
        "backup %s restored into %s%s",
        backup_id,
        result.target,
        f" (previous kept as {result.previous_kept_as})" if result.previous_kept_as else "",
    )
    return result


def _stamp() -> str:
    return utcnow().strftime("%Y%m%d%H%M%S")


async def _migrate(settings: Settings, url: str) -> tuple[list[str], str | None]:
    target = long_running_engine(settings, url)
    try:
        result = await migrate.upgrade(target)
    finally:
        await target.dispose()
    return result.applied, result.after


# PostgreSQL -------------------------------------------------------------------------------------
async def _restore_postgres(
    settings: Settings,
    engine: AsyncEngine,
    manifest: BackupManifest,
    path: Path,
    key: str | None,
    into: str | None,
    into_current: bool,
) -> RestoreResult:
    if is_sqlite(engine):
        raise InvalidInput(
            "restoring a PostgreSQL backup needs DATABASE_URL pointing at a PostgreSQL server",
            field="DATABASE_URL",
        )
    tools = find_pg_tools(settings.backup_pg_bindir)
    current = engine.url.database or ""
    stamp = _stamp()
    if into_current:
        target = check_database_name(f"{current[:40]}_incoming_{stamp}")
    else:
        target = check_database_name(into or f"{current[:40]}_restored_{stamp}")
    async with admin_engine(settings, engine) as admin:
        if await database_exists(admin, target):
            raise Conflict(f"database {target} already exists; choose another name with --into")
    await restore_into(settings, engine, tools, target, path, manifest, key)
    try:
        applied, revision = await _migrate(
            settings, url_for(engine, target).render_as_string(hide_password=False)
        )
    except BaseException:
        async with admin_engine(settings, engine) as admin:
            await drop_database(admin, target)
        raise
    result = RestoreResult(
        manifest.id, "postgresql", target, migrations_applied=applied, schema_revision=revision
    )
    if into_current:
        result.previous_kept_as = await _swap_in(settings, engine, current, target, stamp)
        result.target, result.replaced_current = current, True
    return result


async def _swap_in(
    settings: Settings, engine: AsyncEngine, current: str, incoming: str, stamp: str
) -> str:
    """Rename the current database aside and the restored one into its place."""
    previous = check_database_name(f"{current[:40]}_before_restore_{stamp}")
    await engine.dispose()  # our own pooled connections would block the rename
    async with admin_engine(settings, engine, MAINTENANCE_DATABASE) as admin:
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            await execute_admin(
                admin,
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{check_database_name(current)}' AND pid <> pg_backend_pid()",
            )
            try:
                await execute_admin(admin, f'ALTER DATABASE "{current}" RENAME TO "{previous}"')
                break
            except DatabaseError as error:
                if attempt == SWAP_ATTEMPTS:
                    raise OperationFailed(
                        f"could not take database {current} offline ({error}); sessions keep "
                        f"reconnecting: stop the bot and the API and run the restore again. The "
                        f"current database is unchanged; the restored copy is database {incoming}."
                    ) from error
                await asyncio.sleep(0.5 * attempt)
        try:
            await execute_admin(admin, f'ALTER DATABASE "{incoming}" RENAME TO "{current}"')
        except DatabaseError as error:
            await execute_admin(admin, f'ALTER DATABASE "{previous}" RENAME TO "{current}"')
            raise OperationFailed(
                f"could not rename the restored database {incoming} to {current} ({error}); "
                f"the current database was put back unchanged"
            ) from error
    return previous


# SQLite -----------------------------------------------------------------------------------------
async def _restore_sqlite(
    settings: Settings,
    engine: AsyncEngine,
    manifest: BackupManifest,
    path: Path,
    key: str | None,
    into: str | None,
    into_current: bool,
) -> RestoreResult:
    current = Path(engine.url.database or "") if is_sqlite(engine) else None
    if into_current and current is None:
        raise InvalidInput(
            "--into-current needs DATABASE_URL pointing at the SQLite file to replace", field="into"
        )
    stamp = _stamp()
    if into_current:
        assert current is not None
        target = current
    elif into:
        target = Path(into)
    elif current is not None:
        target = current.with_name(f"{current.stem}.restored-{stamp}.db")
    else:
        raise InvalidInput("name the SQLite file to restore into with --into PATH", field="into")
    if not into_current and target.exists():
        raise Conflict(f"{target} already exists; choose another path with --into")
    staged = partial_path(target)
    try:
        await asyncio.to_thread(write_plaintext_copy, path, manifest, key, staged)
        await asyncio.to_thread(check_integrity, staged)
        applied, revision = await _migrate(settings, f"sqlite+aiosqlite:///{staged}")
        result = RestoreResult(
            manifest.id, "sqlite", str(target), migrations_applied=applied, schema_revision=revision
        )
        if into_current:
            kept = target.with_name(f"{target.name}.before-restore-{stamp}")
            await asyncio.to_thread(online_copy, target, kept)
            await engine.dispose()
            await asyncio.to_thread(_copy_over_live, staged, target)
            result.previous_kept_as, result.replaced_current = str(kept), True
        else:
            await asyncio.to_thread(publish, staged, target)
    finally:
        discard(
            staged,
            staged.with_name(staged.name + "-journal"),
            staged.with_name(staged.name + "-wal"),
            staged.with_name(staged.name + "-shm"),
        )
    return result


def _copy_over_live(source: Path, live: Path) -> None:
    """Replace the live database's content with ``source`` under SQLite's own locking."""
    with (
        contextlib.closing(sqlite3.connect(source)) as reader,
        contextlib.closing(sqlite3.connect(live, timeout=30)) as writer,
    ):
        reader.backup(writer)
