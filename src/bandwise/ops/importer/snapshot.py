"""A consistent snapshot of the legacy SQLite file, read in bounded batches.

Two ways to hold one consistent state while the old bot may keep writing:

- **held** (the import's default for a rollback-journal file): the source itself is read
  inside read transactions opened together at the start and kept until :meth:`Snapshot.close`.
  No writer can change a rollback-journal file while a reader holds its SHARED lock, so every
  read sees the same state, and nothing is copied (a copy of a multi-gigabyte file costs as
  much as a fifth of the whole import). The old bot's writes wait meanwhile.
- **copied**: the file is copied into a private scratch file under a read lock (byte for byte
  for a rollback-journal file, with the online backup API for a WAL file, whose newest pages
  may live in its ``-wal`` file); everything after that reads the copy. Used for WAL files,
  for the worker process (which cannot share this process's locks) and for verify-import.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bandwise.errors import InvalidInput
from bandwise.legacy.schema import LEGACY_ONLY_USER_COLUMNS
from bandwise.ops.importer.rowids import NO_REPAIRS, RowIdMap
from bandwise.ops.importer.tables import SCHEMA_VERSION_TABLE, SQLITE_INTERNAL_PREFIX, TableSpec
from bandwise.ops.importer.values import decode_text

SQLITE_HEADER = b"SQLite format 3\x00"
BATCH_ROWS = 2000
COPY_CHUNK_BYTES = 8 * 1024 * 1024
LOCK_TIMEOUT_SECONDS = 30.0
# The purposes of the read transactions a held snapshot keeps open: reading tables, reading
# the legacy user counters alongside rate_limits, reading single rows by id alongside a table
# (the SQL fast path's careful rows), the integrity check (another thread), the test of
# rate_limits' spellings (a thread started before the tables read ahead of it), and the SQL
# fast path's second reading thread.
HELD_PURPOSES = ("main", "counters", "rows", "check", "rates", "pages")


def _connect(path: Path, *, repair: bool = True) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
    if repair:  # invalid UTF-8 is repaired and reported, not fatal
        connection.text_factory = decode_text
    return connection


@dataclass
class Snapshot:
    """One consistent state of the legacy file (held or copied) and what it contains."""

    source: Path
    path: Path
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Held read transactions on the source, by purpose (empty for a copied snapshot).
    held: dict[str, sqlite3.Connection] = field(default_factory=dict, repr=False)

    @property
    def is_held(self) -> bool:
        """Tell whether this snapshot reads the source under held read transactions."""
        return bool(self.held)

    @contextlib.contextmanager
    def reading(
        self, purpose: str = "main", *, repair: bool = True
    ) -> Iterator[sqlite3.Connection]:
        """Yield a connection reading this snapshot (``repair``: repair invalid UTF-8)."""
        held = self.held.get(purpose)
        if held is None:
            with _closing(_connect(self.path, repair=repair)) as connection:
                yield connection
            return
        held.text_factory = decode_text if repair else str
        yield held

    def close(self) -> None:
        """End the held read transactions (the old bot may write again); idempotent."""
        held, self.held = self.held, {}
        for connection in held.values():
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            connection.close()

    @property
    def data_tables(self) -> list[str]:
        """Return the tables of the file that hold data (not SQLite's or Alembic's own)."""
        return sorted(
            name
            for name in self.columns
            if not name.startswith(SQLITE_INTERNAL_PREFIX) and name != SCHEMA_VERSION_TABLE
        )

    def schema_revision(self) -> str | None:
        """Return the bandwise schema revision the file records (None for a legacy file)."""
        if SCHEMA_VERSION_TABLE not in self.columns:
            return None
        with self.reading() as connection:
            row = connection.execute(f"SELECT version_num FROM {SCHEMA_VERSION_TABLE}").fetchone()
        return None if row is None else str(row[0])

    def telegram_id_repairs(self, table: str, column: str) -> RowIdMap:
        """Return {row id: users.id} for rows whose ``column`` is a user's Telegram id.

        Only a value that matches no ``users.id`` but exactly one ``users.telegram_id``.
        """
        if not (self.has(table) and self.has("users")):
            return NO_REPAIRS
        with self.reading() as connection:
            # In id order as SQLite scans the table (an ORDER BY would re-run the subqueries).
            return RowIdMap(connection.execute(_repair_query(table, column, "id")))

    def repaired_user_order(self, table: str, column: str) -> str:
        """Return an ORDER BY of ``table`` by user as repaired (see telegram_id_repairs), id."""
        return f'coalesce(({_repaired_user(table, column)}), "{column}"), id'

    def has(self, table: str) -> bool:
        """Tell whether the file has ``table``."""
        return table in self.columns

    def source_columns(self, spec: TableSpec) -> tuple[str, ...]:
        """Return the columns read for ``spec``: the target's that exist, plus moved ones."""
        present = self.columns.get(spec.name, ())
        wanted = (*spec.column_names, *spec.moved_columns)
        return tuple(name for name in wanted if name in present)

    def skipped_columns(self, spec: TableSpec) -> list[str]:
        """Return columns of the source table that have no home in the target."""
        known = {*spec.column_names, *spec.moved_columns}
        return [name for name in self.columns.get(spec.name, ()) if name not in known]

    def count_values(self, table: str, column: str) -> int:
        """Return how many rows of ``table`` hold a value (not NULL) in ``column``."""
        with self.reading() as connection:
            query = f'SELECT count("{column}") FROM "{table}"'
            return int(connection.execute(query).fetchone()[0])

    def missing_columns(self, spec: TableSpec) -> list[str]:
        """Return target columns the source table lacks (filled with defaults)."""
        present = self.columns.get(spec.name, ())
        return [name for name in spec.column_names if name not in present]

    def count(self, table: str) -> int:
        """Return the number of rows of ``table`` (0 when absent)."""
        if not self.has(table):
            return 0
        with self.reading() as connection:
            return int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])

    def max_id(self, table: str) -> int:
        """Return the largest integer id of ``table`` (0 when empty or absent)."""
        if not self.has(table):
            return 0
        with self.reading() as connection:
            value = connection.execute(
                f"SELECT max(id) FROM \"{table}\" WHERE typeof(id) = 'integer'"
            ).fetchone()[0]
            return int(value or 0)

    def orphan_ids(self, table: str, column: str, parent: str) -> frozenset[Any]:
        """Return ids of ``table`` rows whose ``column`` names no row of ``parent``."""
        if not self.has(table):
            return frozenset()
        with self.reading() as connection:
            if not self.has(parent):
                query = f'SELECT id FROM "{table}"'
            else:
                query = (
                    f'SELECT id FROM "{table}" WHERE "{column}" IS NOT NULL AND "{column}" '
                    f'NOT IN (SELECT id FROM "{parent}")'
                )
            return frozenset(row[0] for row in connection.execute(query))

    def batches(
        self,
        table: str,
        columns: tuple[str, ...],
        order_by: str = "id",
        batch_rows: int = BATCH_ROWS,
        purpose: str = "main",
        extra: tuple[str, ...] = (),
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Yield the rows of ``table`` (``columns`` only) in batches, ordered by ``order_by``.

        ``extra``: SQL expressions whose values follow the columns in each row.
        """
        if not self.has(table):
            return
        select = ", ".join([*(f'"{name}"' for name in columns), *extra])
        query = f'SELECT {select} FROM "{table}" ORDER BY {order_by}'
        read = 0
        # SQLite's own UTF-8 decoding is several times cheaper than a Python text factory, but
        # invalid UTF-8 stops it: then the rest of the table (from the first row not yet
        # handed out; the order is total, ids being unique) is read with the repairing one.
        with self.reading(purpose, repair=False) as connection:
            try:
                cursor = connection.execute(query)
                while batch := cursor.fetchmany(batch_rows):
                    yield batch
                    read += len(batch)
                return
            except sqlite3.OperationalError as exc:
                if "decode" not in str(exc):
                    raise
        with self.reading(purpose) as connection:
            cursor = connection.execute(f"{query} LIMIT -1 OFFSET {read}")
            while batch := cursor.fetchmany(batch_rows):
                yield batch

    def user_counters(self) -> Iterator[tuple[Any, Any, Any]]:
        """Yield (user id, daily_submissions, last_submission_date) ordered by user id."""
        present = self.columns.get("users", ())
        if not set(LEGACY_ONLY_USER_COLUMNS) <= set(present):
            return
        for batch in self.batches("users", ("id", *LEGACY_ONLY_USER_COLUMNS), purpose="counters"):
            yield from batch


def _repaired_user(table: str, column: str) -> str:
    """Return a scalar subquery: the users.id a row's Telegram-id ``column`` stands for."""
    value = f'"{table}"."{column}"'
    return (
        f"SELECT min(u.id) FROM users u WHERE u.telegram_id = {value} "
        f"AND NOT EXISTS (SELECT 1 FROM users o WHERE o.id = {value}) "
        f"HAVING count(*) = 1"
    )


def _repair_query(table: str, column: str, key: str) -> str:
    """Return (``key``, repaired users.id) of the rows of ``table`` to re-attach."""
    return (
        f'SELECT * FROM (SELECT "{key}", ({_repaired_user(table, column)}) AS repaired '
        f'FROM "{table}" WHERE "{column}" NOT IN (SELECT id FROM users)) '
        f"WHERE repaired IS NOT NULL"
    )


class _closing:
    """Close a SQLite connection on exit (sqlite3's own context manager only commits)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()


def check_sqlite_file(source: Path) -> None:
    """Raise InvalidInput naming ``source`` unless it exists and starts like a SQLite file."""
    if not source.is_file():
        raise InvalidInput(f"{source}: no such file", field="source")
    with source.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise InvalidInput(f"{source} is not a SQLite database (no SQLite header)", field="source")


def _copy_consistently(source: Path, path: Path) -> None:
    """Copy ``source`` to ``path`` as one consistent state of the database.

    A rollback-journal file cannot change while a reader holds its SHARED lock (writers need
    EXCLUSIVE to touch the file), so it is copied byte for byte under that lock: several times
    faster than the backup API, which copies page by page through SQLite. A WAL file's newest
    pages may still live in its ``-wal`` file, so it goes through the backup API in one step.
    """
    # Closing any descriptor of a file drops every POSIX lock this process holds on it,
    # SQLite's included: open ours first and close it only after SQLite let go of its lock.
    descriptor = os.open(source, os.O_RDONLY)
    try:
        with _closing(sqlite3.connect(source, timeout=30.0, isolation_level=None)) as origin:
            mode = str(origin.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode == "wal":
                with _closing(sqlite3.connect(path)) as copy:
                    origin.backup(copy)  # one step: a consistent snapshot under one read lock
                return
            origin.execute("BEGIN")
            # Reading takes the SHARED lock (after rolling back any hot journal): from here
            # until ROLLBACK no writer can change the file.
            origin.execute("SELECT count(*) FROM sqlite_master").fetchone()
            try:
                _copy_bytes(descriptor, path, os.fstat(descriptor).st_size)
            finally:
                origin.execute("ROLLBACK")
    finally:
        os.close(descriptor)


def _copy_bytes(descriptor: int, path: Path, size: int) -> None:
    """Copy the first ``size`` bytes of the open ``descriptor`` into a new file ``path``."""
    with path.open("wb") as target:
        offset = 0
        kernel_copy = hasattr(os, "copy_file_range")
        while offset < size:
            chunk = min(size - offset, COPY_CHUNK_BYTES)
            if kernel_copy:
                try:
                    copied = os.copy_file_range(descriptor, target.fileno(), chunk, offset, offset)
                except OSError:  # e.g. a file system without it: plain reads and writes
                    kernel_copy = False
                    continue
            else:
                copied = os.pwrite(target.fileno(), os.pread(descriptor, chunk, offset), offset)
            if copied == 0:
                raise sqlite3.DatabaseError(f"file ended after {offset} of {size} bytes")
            offset += copied


def take_snapshot(source: Path, directory: Path) -> Snapshot:
    """Copy ``source`` into ``directory`` consistently, check its integrity, describe its tables.

    Raises InvalidInput naming the file for a missing, non-SQLite or corrupt source.
    """
    snapshot = copy_snapshot(source, directory)
    check_integrity(snapshot)
    return snapshot


def copy_snapshot(source: Path, directory: Path) -> Snapshot:
    """Copy ``source`` into ``directory`` consistently and describe its tables (not checked).

    The copy is private, so :func:`check_integrity` may run on it while it is being read;
    nothing read from it may be committed before that check passed.
    Raises InvalidInput naming the file for a missing or non-SQLite source.
    """
    check_sqlite_file(source)
    path = directory / "snapshot.db"
    try:
        _copy_consistently(source, path)
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{source}: cannot read the SQLite file: {exc}", field="source") from exc
    return _described(Snapshot(source=source, path=path))


def open_snapshot(source: Path, directory: Path) -> Snapshot:
    """Return a snapshot of ``source``: held on the source itself when it can be, else copied.

    A rollback-journal file is held (see the module docstring); a WAL file is copied into
    ``directory``. The caller must :meth:`Snapshot.close` it. Not checked: see
    :func:`copy_snapshot`. Raises InvalidInput naming the file for a missing or non-SQLite
    source, or when its lock cannot be had within LOCK_TIMEOUT_SECONDS.
    """
    check_sqlite_file(source)
    try:
        with _closing(sqlite3.connect(source, timeout=LOCK_TIMEOUT_SECONDS)) as probe:
            mode = str(probe.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        if mode == "wal":
            return copy_snapshot(source, directory)
        snapshot = Snapshot(source=source, path=source, held=_hold(source))
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{source}: cannot read the SQLite file: {exc}", field="source") from exc
    try:
        return _described(snapshot)
    except BaseException:
        snapshot.close()
        raise


def _hold(source: Path) -> dict[str, sqlite3.Connection]:
    """Open one read transaction per purpose on ``source``, all holding its SHARED lock.

    A writer waiting to commit holds PENDING, which refuses new SHARED locks while it waits
    for ours to go: so the transactions are opened together, and if any of them is refused,
    all are let go (the writer commits) and tried again, rather than both sides waiting.
    """
    deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
    pause = 0.005
    while True:
        held: dict[str, sqlite3.Connection] = {}
        try:
            for purpose in HELD_PURPOSES:
                connection = sqlite3.connect(
                    source, timeout=0.05, isolation_level=None, check_same_thread=False
                )
                held[purpose] = connection
                connection.execute("BEGIN")
                # The first read takes SHARED (rolling back a crashed writer's hot journal).
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            for connection in held.values():
                connection.close()
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
            continue
        for connection in held.values():
            connection.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_SECONDS * 1000)}")
        return held


def _described(snapshot: Snapshot) -> Snapshot:
    """Fill in ``snapshot``'s tables and their columns."""
    try:
        with snapshot.reading() as connection:
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            snapshot.columns = {
                table: tuple(row[1] for row in connection.execute(f'PRAGMA table_info("{table}")'))
                for table in tables
            }
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(
            f"{snapshot.source}: cannot read the SQLite file: {exc}", field="source"
        ) from exc
    return snapshot


def describe_file(source: Path) -> Snapshot:
    """Return a description of ``source``'s tables, read in place (for checks before an import)."""
    return _described(Snapshot(source=source, path=source))


def check_integrity(snapshot: Snapshot) -> None:
    """Run ``PRAGMA integrity_check`` on the snapshot; raise InvalidInput naming any problem."""
    source = snapshot.source
    with snapshot.reading("check") as connection:
        try:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            raise InvalidInput(f"{source}: corrupt SQLite file: {exc}", field="source") from exc
    if problems != ["ok"]:
        listed = "; ".join(str(problem) for problem in problems[:5])
        raise InvalidInput(f"{source}: integrity_check failed: {listed}", field="source")
