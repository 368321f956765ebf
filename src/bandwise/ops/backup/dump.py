"""Create a backup: pg_dump (custom format) or a SQLite online copy, plus its manifest."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.db.engine import describe_target, is_sqlite
from bandwise.db.errors import to_domain_error
from bandwise.errors import InvalidInput, OperationFailed
from bandwise.ops.backup.crypto import EncryptingWriter, encrypt_chunks
from bandwise.ops.backup.files import (
    HASH_CHUNK,
    describe_os_error,
    discard,
    partial_path,
    prepare_directory,
    publish,
    read_chunks,
    sha256_of,
)
from bandwise.ops.backup.manifest import BackupManifest, manifest_path, utcnow, write_manifest
from bandwise.ops.backup.pgtools import (
    PgTools,
    check_compatible,
    find_pg_tools,
    libpq_environment,
    tool_failure,
)
from bandwise.ops.backup.scratch import long_running_engine
from bandwise.ops.backup.sqlite_copy import check_integrity, online_copy, sqlite_file_stats
from bandwise.ops.backup.stats import TableStats, collect_table_stats, schema_revision_of
from bandwise.ops.private_files import write_private

log = logging.getLogger(__name__)

MAX_LABEL_LENGTH = 100


@dataclass(frozen=True)
class _Dumped:
    database: str
    server_version: str
    pg_dump_version: str | None
    stats: TableStats
    schema_revision: str | None


def encryption_key(settings: Settings) -> str | None:
    """Return the configured backup passphrase (None: backups are not encrypted)."""
    secret = settings.backup_encryption_key
    value = secret.get_secret_value() if secret is not None else ""
    return value or None


def _new_backup_id(directory: Path, created_at: datetime) -> str:
    base = created_at.strftime("%Y%m%dT%H%M%SZ")
    candidate, suffix = base, 1
    while manifest_path(directory, candidate).exists() or any(directory.glob(f"{candidate}.*")):
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


def _check_label(label: str | None) -> str | None:
    if label is None:
        return None
    cleaned = label.strip()
    if not cleaned or len(cleaned) > MAX_LABEL_LENGTH or not cleaned.isprintable():
        raise InvalidInput(
            f"--label must be 1–{MAX_LABEL_LENGTH} printable characters", field="label"
        )
    return cleaned


async def create_backup(
    settings: Settings, engine: AsyncEngine, label: str | None = None, now: datetime | None = None
) -> BackupManifest:
    """Back up the database behind ``engine`` into BACKUP_DIR and return the new manifest."""
    label = _check_label(label)
    directory = settings.backup_dir
    prepare_directory(directory)
    created_at = now or utcnow()
    backup_id = _new_backup_id(directory, created_at)
    key = encryption_key(settings)
    sqlite = is_sqlite(engine)
    extension = ".sqlite3" if sqlite else ".dump"
    final = directory / f"{backup_id}{extension}{'.enc' if key else ''}"
    started = time.monotonic()
    if sqlite:
        dumped = await asyncio.to_thread(_dump_sqlite, Path(engine.url.database or ""), final, key)
    else:
        dumped = await _dump_postgres(settings, engine, final, key)
    manifest = BackupManifest(
        id=backup_id,
        created_at=created_at,
        engine="sqlite" if sqlite else "postgresql",
        database=dumped.database,
        file=final.name,
        format="sqlite" if sqlite else "pg_dump-custom",
        server_version=dumped.server_version,
        pg_dump_version=dumped.pg_dump_version,
        schema_revision=dumped.schema_revision,
        row_counts=dumped.stats.row_counts,
        max_ids=dumped.stats.max_ids,
        size_bytes=final.stat().st_size,
        sha256=sha256_of(final),
        duration_seconds=round(time.monotonic() - started, 3),
        label=label,
        encrypted=key is not None,
    )
    try:
        write_manifest(directory, manifest)
    except OperationFailed:
        discard(final)  # a backup without its manifest is not a backup
        raise
    log.info(
        "backup %s created: %s, %d bytes, %.1fs%s",
        backup_id,
        final.name,
        manifest.size_bytes,
        manifest.duration_seconds,
        " (encrypted)" if key else "",
    )
    return manifest


# PostgreSQL -------------------------------------------------------------------------------------
async def _dump_postgres(
    settings: Settings, engine: AsyncEngine, final: Path, key: str | None
) -> _Dumped:
    tools = find_pg_tools(settings.backup_pg_bindir)
    snapshot_engine = long_running_engine(settings, engine.url)
    try:
        async with snapshot_engine.connect() as plain:
            # One snapshot for the counts and for pg_dump (--snapshot): they describe the same data.
            connection = await plain.execution_options(isolation_level="REPEATABLE READ")
            # The exporting transaction stays open, idle, for as long as pg_dump runs.
            await connection.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
            server_num = int(
                (await connection.execute(text("SHOW server_version_num"))).scalar_one()
            )
            server_version = str(
                (await connection.execute(text("SHOW server_version"))).scalar_one()
            )
            check_compatible(tools, server_num // 10000)
            snapshot = str(
                (await connection.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
            )
            database = str(
                (await connection.execute(text("SELECT current_database()"))).scalar_one()
            )
            stats = await connection.run_sync(collect_table_stats)
            revision = await connection.run_sync(schema_revision_of)
            env = libpq_environment(engine.url, database)
            await asyncio.to_thread(_run_pg_dump, tools, env, snapshot, final, key)
            await connection.rollback()
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise to_domain_error(error, describe_target(engine)) from error
    finally:
        await snapshot_engine.dispose()
    return _Dumped(database, server_version, tools.version, stats, revision)


def _run_pg_dump(
    tools: PgTools, env: dict[str, str], snapshot: str, final: Path, key: str | None
) -> None:
    temporary = partial_path(final)
    command = [tools.pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}"]
    try:
        write_private(temporary, b"")  # pg_dump and the encryption keep this file's mode
        if key is None:
            returncode, stderr = _pg_dump_to_file(command, env, temporary)
        else:
            returncode, stderr = _pg_dump_encrypted(command, env, temporary, key)
        if returncode != 0:
            if "No space left on device" in stderr:
                raise describe_os_error(OSError(28, "No space left on device"), final)
            raise OperationFailed(tool_failure("pg_dump", returncode, stderr))
        publish(temporary, final)
    except OSError as error:
        raise describe_os_error(error, final) from error
    finally:
        discard(temporary)


def _pg_dump_to_file(command: list[str], env: dict[str, str], temporary: Path) -> tuple[int, str]:
    out = subprocess.run(
        [*command, f"--file={temporary}"], env=env, capture_output=True, text=True, check=False
    )
    return out.returncode, out.stderr


def _pg_dump_encrypted(
    command: list[str], env: dict[str, str], temporary: Path, key: str
) -> tuple[int, str]:
    with tempfile.TemporaryFile() as errors, open(temporary, "wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors)
        try:
            assert process.stdout is not None
            writer = EncryptingWriter(key, sink)
            while block := process.stdout.read(HASH_CHUNK):
                writer.write(block)
            returncode = process.wait()
            if returncode == 0:
                writer.close()
        except BaseException:
            process.kill()
            process.wait()
            raise
        errors.seek(0)
        return returncode, errors.read().decode("utf-8", errors="replace")


# SQLite -----------------------------------------------------------------------------------------
def _dump_sqlite(source: Path, final: Path, key: str | None) -> _Dumped:
    temporary = partial_path(final)
    plain = temporary.with_name(temporary.name + ".plain") if key else temporary
    try:
        online_copy(source, plain)
        check_integrity(plain)
        stats, revision = sqlite_file_stats(plain)
        if key is not None:
            with open(temporary, "wb") as sink:
                encrypt_chunks(key, read_chunks(plain), sink)
        publish(temporary, final)
    except OSError as error:
        raise describe_os_error(error, final) from error
    finally:
        discard(temporary, plain, plain.with_name(plain.name + "-journal"))
    return _Dumped(str(source.name), sqlite3.sqlite_version, None, stats, revision)
