"""Prove a backup restorable: checksum, archive listing, a scratch restore and a comparison."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db.engine import is_sqlite
from bandwise.errors import BackupDamaged, BackupKeyMismatch, OperationFailed
from bandwise.ops.backup.dump import encryption_key
from bandwise.ops.backup.files import describe_os_error, discard, partial_path, sha256_of
from bandwise.ops.backup.manifest import (
    BackupManifest,
    list_manifests,
    read_manifest,
    utcnow,
    write_manifest,
)
from bandwise.ops.backup.pgtools import PgTools, find_pg_tools
from bandwise.ops.backup.scratch import (
    admin_engine,
    drop_database,
    list_archive,
    restore_into,
    stats_of,
)
from bandwise.ops.backup.sqlite_copy import check_integrity, sqlite_file_stats
from bandwise.ops.backup.streams import drain, plaintext_chunks

log = logging.getLogger(__name__)


def check_file(directory: Path, manifest: BackupManifest) -> Path:
    """Return the backup's data file after checking its size and SHA-256; BackupDamaged if not."""
    path = manifest.data_path(directory)
    if not path.is_file():
        raise BackupDamaged(f"backup file {path} is missing")
    size = path.stat().st_size
    if size != manifest.size_bytes:
        raise BackupDamaged(
            f"{path.name} is {size} bytes but the manifest says {manifest.size_bytes} "
            "(truncated or altered)"
        )
    if sha256_of(path) != manifest.sha256:
        raise BackupDamaged(
            f"{path.name}: SHA-256 differs from the manifest (the file was altered)"
        )
    return path


def write_plaintext_copy(
    path: Path, manifest: BackupManifest, key: str | None, target: Path
) -> None:
    """Write the backup's plaintext (decrypted when needed) to ``target``."""
    with plaintext_chunks(path, manifest.encrypted, key) as chunks, open(target, "wb") as sink:
        for chunk in chunks:
            sink.write(chunk)


async def verify_backup(
    settings: Settings,
    engine: AsyncEngine,
    backup_id: str,
    *,
    scratch_restore: bool = True,
    now: datetime | None = None,
) -> BackupManifest:
    """Verify backup ``backup_id`` and record the outcome in its manifest; return the manifest.

    A damaged file or a restore that differs from the manifest is recorded as ``failed``; a
    missing/wrong key or an unreachable server is raised without recording (not the backup's fault).
    """
    directory = settings.backup_dir
    manifest = read_manifest(directory, backup_id)
    key = encryption_key(settings)
    tools = find_pg_tools(settings.backup_pg_bindir) if manifest.engine == "postgresql" else None
    if tools is not None and scratch_restore and is_sqlite(engine):
        raise OperationFailed(
            "verifying a PostgreSQL backup restores it into a scratch database: configure "
            "DATABASE_URL to the PostgreSQL server (or use --no-restore)"
        )
    started = time.monotonic()
    try:
        path = check_file(directory, manifest)
        if tools is None:
            detail = await asyncio.to_thread(_verify_sqlite, directory, manifest, path, key)
        else:
            detail = await _verify_postgres(
                settings, engine, tools, manifest, path, key, scratch_restore
            )
        outcome, message = "passed", detail
    except BackupKeyMismatch:
        raise
    except OSError as error:  # our disk, not the backup: report without recording a verdict
        raise describe_os_error(error, directory) from error
    except OperationFailed as error:  # damaged file, failing pg_restore, differing restore
        outcome, message = "failed", error.message
    elapsed = time.monotonic() - started
    updated = manifest.model_copy(
        update={
            "verified_at": now or utcnow(),
            "verify_outcome": outcome,
            "verify_detail": f"{message} ({elapsed:.1f}s)",
        }
    )
    write_manifest(directory, updated)
    if outcome == "passed":
        log.info("backup %s verified: %s", backup_id, message)
    else:
        log.error("backup %s FAILED verification: %s", backup_id, message)
    return updated


async def verify_all(
    settings: Settings, engine: AsyncEngine, *, scratch_restore: bool = True
) -> list[BackupManifest]:
    """Verify every backup in BACKUP_DIR, newest first; return the updated manifests."""
    return [
        await verify_backup(settings, engine, manifest.id, scratch_restore=scratch_restore)
        for manifest in list_manifests(settings.backup_dir)
    ]


def _verify_sqlite(directory: Path, manifest: BackupManifest, path: Path, key: str | None) -> str:
    copy = partial_path(directory / f"verify-{manifest.id}-{uuid.uuid4().hex[:8]}.sqlite3")
    try:
        write_plaintext_copy(path, manifest, key, copy)
        check_integrity(copy)
        stats, _revision = sqlite_file_stats(copy)
    finally:
        discard(copy, copy.with_name(copy.name + "-journal"))
    problems = stats.differences(manifest.row_counts, manifest.max_ids)
    if problems:
        raise BackupDamaged("restored copy differs: " + "; ".join(problems[:5]))
    return (
        f"integrity ok; {len(stats.row_counts)} tables, {sum(stats.row_counts.values())} rows match"
    )


async def _verify_postgres(
    settings: Settings,
    engine: AsyncEngine,
    tools: PgTools,
    manifest: BackupManifest,
    path: Path,
    key: str | None,
    scratch_restore: bool,
) -> str:
    await asyncio.to_thread(list_archive, tools, path, manifest, key)
    if not scratch_restore:
        if manifest.encrypted:
            with plaintext_chunks(path, True, key) as chunks:
                await asyncio.to_thread(drain, chunks)
        return "checksum and archive listing ok (no scratch restore)"
    scratch = f"bandwise_verify_{uuid.uuid4().hex[:12]}"
    await restore_into(settings, engine, tools, scratch, path, manifest, key)
    try:
        stats = await stats_of(settings, engine, scratch)
    finally:
        async with admin_engine(settings, engine) as admin:
            await drop_database(admin, scratch)
    problems = stats.differences(manifest.row_counts, manifest.max_ids)
    if problems:
        raise BackupDamaged("scratch restore differs: " + "; ".join(problems[:5]))
    return (
        f"checksum, archive listing and scratch restore ok; {len(stats.row_counts)} tables, "
        f"{sum(stats.row_counts.values())} rows match"
    )
