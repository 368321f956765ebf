"""Consistent online copies of a live SQLite database through SQLite's backup API."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.pool import NullPool

from bandwise.errors import BackupDamaged, Conflict, NotFound, OperationFailed
from bandwise.ops.backup.files import describe_os_error, discard, partial_path, publish, sha256_of
from bandwise.ops.backup.stats import TableStats, collect_table_stats, schema_revision_of
from bandwise.ops.private_files import write_private


def online_copy(source: Path, destination: Path) -> None:
    """Copy the live database ``source`` into the new file ``destination`` (one snapshot).

    The copy is switched to rollback-journal mode so that it is one self-contained file.
    """
    if not source.is_file():
        raise NotFound(f"SQLite database {source} does not exist")
    try:
        write_private(destination, b"")  # candidates' data: owner-only before the first page
        with (
            contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as reader,
            contextlib.closing(sqlite3.connect(destination)) as writer,
        ):
            reader.backup(writer)
            writer.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as error:
        if "full" in str(error).lower():
            raise OperationFailed(
                f"disk full: no space left for the copy of {source} at {destination}; free space "
                "or point BACKUP_DIR elsewhere (no partial backup was kept)"
            ) from error
        raise OperationFailed(f"online copy of {source} failed: {error}") from error
    except OSError as error:
        raise describe_os_error(error, destination) from error


def copy_sqlite_online(source: Path, destination: Path) -> tuple[Path, str]:
    """Copy the live SQLite database ``source`` to ``destination``; return (path, sha256).

    The copy is written under a temporary name, fsynced, made private (0600) and renamed, so
    ``destination`` exists only when complete. An existing ``destination`` is refused.
    """
    if destination.exists():
        raise Conflict(f"{destination} already exists; choose another destination")
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(destination)
    try:
        online_copy(source, temporary)
        check_integrity(temporary)
        publish(temporary, destination)
    except OSError as error:
        raise describe_os_error(error, destination) from error
    finally:
        discard(temporary, temporary.with_name(temporary.name + "-journal"))
    return destination, sha256_of(destination)


def check_integrity(path: Path) -> None:
    """Run ``PRAGMA integrity_check`` on the SQLite file ``path``; BackupDamaged when not ok."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            rows = [str(row[0]) for row in connection.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as error:
        raise BackupDamaged(f"{path.name} is not a readable SQLite database: {error}") from error
    if rows != ["ok"]:
        raise BackupDamaged(f"{path.name} fails the integrity check: {'; '.join(rows[:3])}")


def sqlite_file_stats(path: Path) -> tuple[TableStats, str | None]:
    """Return the table stats and schema revision of the SQLite file ``path``."""
    engine = create_sync_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return collect_table_stats(connection), schema_revision_of(connection)
    finally:
        engine.dispose()
