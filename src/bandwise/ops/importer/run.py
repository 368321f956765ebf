"""The import procedure: snapshot → convert (a reader thread) → COPY → verify → commit.

The load is a pipeline on one connection in one transaction: as soon as a table's COPY ends,
the connection scans it for the verification and re-creates its indexes and foreign keys,
while the reader converts the next tables into its queue (bounded in bytes).

The snapshot's integrity check runs in a thread alongside the load and must pass before the
verdict, so a corrupt source never reaches a commit.

Reading and converting run in a thread (or, on request, a worker process) that feeds bounded
batches to the COPY on the event loop, so SQLite, Python and PostgreSQL work at the same time
while memory stays bounded.

Timings: ``load_seconds`` covers the whole pipelined load, including the per-table checksum
scans (``load_checksum_scans_seconds``) and index and foreign key re-creation
(``load_constraints_seconds``); ``sequences_seconds`` the sequences and the import's own
quarantined rows after it; ``verify_seconds`` the verdict (sequence and quarantine checks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

import bandwise
from bandwise.config import Settings, mask_url
from bandwise.db import migrate
from bandwise.db.engine import create_engine
from bandwise.errors import (
    BandwiseError,
    DatabaseError,
    DatabaseUnavailable,
    ImportFailed,
    InvalidInput,
)
from bandwise.ops.importer import copy, verify
from bandwise.ops.importer.convert import TELEGRAM_ID_TABLES, BadRowPolicy, Converter
from bandwise.ops.importer.produce import (
    Batch,
    ProcessProducer,
    Producer,
    TableEnd,
    ThreadProducer,
    converted_tables,
    sends_text,
)
from bandwise.ops.importer.report import ImportReport
from bandwise.ops.importer.snapshot import (
    Snapshot,
    check_integrity,
    check_sqlite_file,
    copy_snapshot,
    open_snapshot,
    take_snapshot,
)
from bandwise.ops.importer.sources import account_for_source
from bandwise.ops.importer.tables import TABLE_ORDER, TABLES
from bandwise.wording import plural

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportOptions:
    """How to import: bad-row policy, strictness, replacing, dry run, progress, scratch space."""

    on_bad_rows: BadRowPolicy = "abort"
    strict: bool = False
    replace: bool = False
    dry_run: bool = False
    progress: ProgressCallback | None = None
    work_dir: Path | None = None  # where the snapshot copy lives (default: system temp)
    # Convert in a worker process (converting there, COPY encoding and checksums here) instead
    # of a thread of this process. Both give identical rows, figures and checksums. Off by
    # default: it pays only when a core is idle, and costs CPU (pickling) and memory (a
    # second interpreter); see docs/performance.md.
    convert_in_worker: bool = False
    # Copy the source into ``work_dir`` (under its read lock) and read the copy, instead of
    # holding the read lock on the source for the whole import: the old bot, if it still
    # runs, is kept waiting only for the copy. Slower (the copy) and needs the disk space.
    copy_source: bool = False
    # Source tables the operator chose to leave behind (--skip-table); any other table the
    # importer does not move makes the import fail before anything is committed.
    skip_tables: tuple[str, ...] = ()
    # Likewise columns of bandwise's tables ("table.column", --skip-column): any other source
    # column the importer would drop makes the import fail before anything is committed.
    skip_columns: tuple[str, ...] = ()


async def _items(
    producer: Producer, table: str, progress: ProgressCallback | None, total: int
) -> AsyncIterator[Any]:
    """Yield ``table``'s batches from the producer (row lists, or COPY text chunks)."""
    while True:
        item = await producer.next_item()
        assert isinstance(item, Batch | TableEnd) and item.table == table, (
            f"reader sent {item!r:.80} while {table} was being copied"
        )
        if isinstance(item, TableEnd):
            return
        yield item.rows
        if progress is not None:
            progress(table, item.read, total)


async def _rows(batches: AsyncIterator[list[tuple[Any, ...]]]) -> AsyncIterator[tuple[Any, ...]]:
    async for batch in batches:
        for row in batch:
            yield row


def _prepare(snapshot: Snapshot, report: ImportReport, options: ImportOptions) -> Converter:
    account_for_source(snapshot, report, options.skip_tables, options.skip_columns)
    converter = Converter(report, policy=options.on_bad_rows, strict=options.strict)
    for name, spec in TABLES.items():
        report.figures(name)
        if spec.parent is not None:
            column, parent = spec.parent
            converter.orphans[name] = snapshot.orphan_ids(name, column, parent)
            if name in TELEGRAM_ID_TABLES:
                converter.repairs[name] = snapshot.telegram_id_repairs(name, column)
    return converter


def _versions(server_version: str) -> dict[str, str]:
    return {
        "bandwise": bandwise.__version__,
        "schema": migrate.head_revision(),
        "postgresql": server_version,
        "sqlite": sqlite3.sqlite_version,
        "asyncpg": asyncpg.__version__,
    }


async def upgrade_target(target_url: str, settings: Settings) -> None:
    """Bring the target at ``target_url`` to the schema head."""
    engine = create_engine(settings, url=target_url, null_pool=True)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _timed_upgrade(
    target_url: str, settings: Settings, report: ImportReport, started: float
) -> None:
    """Bring the target to the schema head; record when that was done."""
    await upgrade_target(target_url, settings)
    report.timings["migrate_seconds"] = time.perf_counter() - started


async def _is_empty(connection: asyncpg.Connection) -> bool:
    """Tell whether the target's schema holds no table, sequence or type at all."""
    found = await connection.fetchval(
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "        WHERE n.nspname = current_schema()) "
        "     + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "        WHERE n.nspname = current_schema() AND t.typtype = 'e')"
    )
    return int(found) == 0


async def _empty_again(target_url: str, settings: Settings) -> None:
    """Take a target that was empty before a failed import back to empty (no schema left)."""
    engine = create_engine(settings, url=target_url, null_pool=True)
    try:
        await migrate.downgrade(engine, "base")
        async with engine.begin() as connection:
            await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    finally:
        await engine.dispose()


def _row_totals(snapshot: Snapshot) -> dict[str, int]:
    return {name: snapshot.count(name) for name in TABLE_ORDER}


def _producer(snapshot: Snapshot, converter: Converter, options: ImportOptions) -> Producer:
    """Return the producer that converts ``snapshot`` (a thread, or a worker process)."""
    if options.convert_in_worker:
        return ProcessProducer(snapshot, converter)
    return ThreadProducer(snapshot, converter)


async def _load(
    connection: asyncpg.Connection,
    snapshot: Snapshot,
    report: ImportReport,
    options: ImportOptions,
    producer: Producer,
    totals: dict[str, int],
) -> dict[str, verify.TableScan]:
    """Load every table, scanning each as soon as it is in; return the scans for the verdict.

    Right after a table's COPY the connection scans it for the verification (its count,
    checksum, enum values and bands, kept for the verdict) and re-creates the indexes and
    foreign keys whose tables are all loaded, while the producer converts the next tables
    into its queue.
    """
    timings = report.timings
    started = time.perf_counter()
    emptied = await copy.prepare_target(connection, replace=options.replace)
    deferred = await copy.drop_constraints(connection)
    # Checksum scans, index builds and the foreign keys' validation may use parallel workers.
    await verify.allow_parallel_scans(connection)
    scanned: dict[str, verify.TableScan] = {}
    loaded: list[str] = []
    scans = constraints = 0.0
    for name in TABLE_ORDER:
        step = time.perf_counter()
        spec = TABLES[name]
        items = _items(producer, name, options.progress, totals[name])
        if not options.convert_in_worker and sends_text(spec, snapshot.source_columns(spec)):
            await copy.copy_text(connection, spec, items, freeze=emptied)
        else:
            await copy.copy_rows(connection, spec, _rows(items))
        report.figures(name).seconds = time.perf_counter() - step
        loaded.append(name)
        step = time.perf_counter()
        # The whole table: the import's own quarantined rows are written after the load.
        scanned[name] = await verify.scan_table(connection, report, name, carried_only=False)
        scanned_at = time.perf_counter()
        await copy.restore_constraints(connection, deferred, loaded)
        scans += scanned_at - step
        constraints += time.perf_counter() - scanned_at
    await producer.finish()
    if isinstance(producer, ProcessProducer):
        report.timings["worker_peak_rss_mb"] = producer.worker_peak_rss_mb
    timings["load_seconds"] = time.perf_counter() - started
    timings["load_checksum_scans_seconds"] = scans
    timings["load_constraints_seconds"] = constraints
    violations = producer.converter.strict_violations
    if violations:
        raise ImportFailed(
            f"--strict: {plural(violations, 'value')} would be changed "
            f"(NUL bytes or invalid UTF-8); nothing was imported.\n"
            f"{report.bad_value_summary()}",
            report,
        )
    if report.bad_value_totals and options.on_bad_rows == "abort":
        raise ImportFailed(
            "bad rows found; nothing was imported (use --on-bad-rows quarantine "
            f"to set them aside).\n{report.bad_value_summary()}",
            report,
        )
    started = time.perf_counter()
    # Rows set aside now get ids after those of the quarantined rows carried from the source.
    await copy.advance_sequences(connection)
    await copy.write_quarantine(connection, report.quarantined)
    await copy.restore_constraints(connection, deferred)  # any left (none: all tables are in)
    await copy.advance_sequences(connection)
    timings["sequences_seconds"] = time.perf_counter() - started
    return scanned


async def import_sqlite(
    source: Path, target_url: str, settings: Settings, options: ImportOptions
) -> ImportReport:
    """Import the legacy SQLite file ``source`` into PostgreSQL ``target_url`` atomically.

    Brings the target to the schema head, reads a consistent snapshot of ``source``, converts
    every row, loads everything in ONE transaction, verifies it (counts, per-row checksums,
    foreign keys, enums, sequences) and commits only when verified (never with ``dry_run``).
    Returns the report; raises ImportFailed (with the report) when nothing was committed
    because of bad rows or a failed verification, Conflict for a non-empty target without
    ``replace``, InvalidInput for an unreadable source or a non-PostgreSQL target,
    DatabaseUnavailable when the target cannot be reached or the connection is lost.
    """
    report = ImportReport(
        source=str(source),
        target=mask_url(target_url),
        mode="dry-run" if options.dry_run else "import",
    )
    started = time.perf_counter()
    check_sqlite_file(source)  # cheap checks first: nothing is touched for a wrong file
    connection = await copy.connect(target_url, settings)
    was_empty = False
    migrating: asyncio.Future[None] | None = None
    try:
        report.versions = _versions(str(connection.get_server_version()))
        was_empty = await _is_empty(connection)
        # The target's migration (its own connection) runs while the source is opened and
        # scanned for orphans here: both must be done before the load starts.
        migrating = asyncio.ensure_future(_timed_upgrade(target_url, settings, report, started))
        with tempfile.TemporaryDirectory(
            prefix="bandwise-import-", dir=options.work_dir
        ) as scratch:
            step = time.perf_counter()
            # The worker process cannot share this process's read locks: it reads a copy.
            copied = options.convert_in_worker or options.copy_source
            take = copy_snapshot if copied else open_snapshot
            snapshot = await asyncio.to_thread(take, source, Path(scratch))
            report.timings["snapshot_seconds"] = time.perf_counter() - step
            report.snapshot = "held" if snapshot.is_held else "copied"
            # Nobody writes the snapshot, so its integrity check runs while it is read and
            # loaded (on the other core); it must pass before verification, so before commit.
            integrity = asyncio.ensure_future(asyncio.to_thread(_check_integrity, snapshot, report))
            try:
                step = time.perf_counter()
                converter = await asyncio.to_thread(_prepare, snapshot, report, options)
                report.timings["orphan_scan_seconds"] = time.perf_counter() - step
                # Rows per table (for the progress), counted before the reader starts: both
                # read through the snapshot's one connection.
                totals = await asyncio.to_thread(_row_totals, snapshot)
                # Converting starts now, into the producer's bounded queue, while the target
                # is still being migrated, locked and emptied: nothing is written before that.
                producer = _producer(snapshot, converter, options)
                producer.start()
                try:
                    await migrating
                    await _load_verify_commit(
                        connection, snapshot, report, options, producer, totals, integrity
                    )
                finally:
                    producer.close()
            except Exception as exc:
                # Reading a corrupt file may fail before the check does: report the cause.
                problem = await _integrity_problem(integrity)
                if problem is None or problem is exc:
                    raise
                report.error = str(problem)
                raise problem from exc
            finally:
                if not integrity.done():  # interrupted: let it end before its file goes
                    with contextlib.suppress(BaseException):
                        await asyncio.wait([integrity])
                snapshot.close()
    except BaseException:
        if migrating is not None and not migrating.done():  # no cleanup while it migrates
            with contextlib.suppress(BaseException):
                await asyncio.wait([migrating])
        if migrating is not None and migrating.done() and not migrating.cancelled():
            migrating.exception()  # retrieved: the failure being raised is the import's own
        await _close(connection)
        if was_empty and not report.committed:  # an empty target stays empty
            try:
                await _empty_again(target_url, settings)
            except Exception as cleanup:  # the import's own failure is what the caller needs
                log.warning("could not remove the schema from the empty target: %s", cleanup)
        raise
    await _close(connection)
    if was_empty and not report.committed:  # a dry run leaves an empty target empty too
        await _empty_again(target_url, settings)
    report.timings["total_seconds"] = time.perf_counter() - started
    log.info(
        "import of %s %s: verified=%s",
        source,
        "committed" if report.committed else "rolled back",
        report.verified,
    )
    return report


def _check_integrity(snapshot: Snapshot, report: ImportReport) -> None:
    started = time.perf_counter()
    check_integrity(snapshot)
    report.timings["integrity_check_seconds"] = time.perf_counter() - started


async def _integrity_problem(integrity: asyncio.Future[None]) -> InvalidInput | None:
    """Wait for the integrity check; return its failure (None when it passed)."""
    await asyncio.wait([integrity])
    if integrity.cancelled():
        return None
    error = integrity.exception()
    return error if isinstance(error, InvalidInput) else None


async def _load_verify_commit(
    connection: asyncpg.Connection,
    snapshot: Snapshot,
    report: ImportReport,
    options: ImportOptions,
    producer: Producer,
    totals: dict[str, int],
    integrity: Awaitable[None],
) -> None:
    """Run the load and the verification in one transaction; commit only when verified.

    ``integrity``: the source's integrity check, awaited (and so passed) before verifying.
    """
    transaction = connection.transaction()
    await transaction.start()
    try:
        scanned = await _load(connection, snapshot, report, options, producer, totals)
        await integrity
        step = time.perf_counter()
        report.verified = await verify.verify_target(
            connection,
            report,
            expected_quarantined=len(report.quarantined),
            foreign_keys_validated=True,  # re-created by _load, so checked against every row
            scanned=scanned,  # by _load, each table once its rows were all in
        )
        report.timings["verify_seconds"] = time.perf_counter() - step
        if not report.verified:
            failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
            raise ImportFailed(f"verification failed, nothing committed: {failed}", report)
    except BaseException as exc:
        report.verified = False
        report.error = str(exc)
        await _rollback(transaction)
        # asyncpg may report a connection lost between two statements as a protocol state
        # error (InternalClientError) of the next one: the closed connection tells.
        lost = isinstance(exc, _LOST) or (
            isinstance(exc, Exception)
            and not isinstance(exc, BandwiseError)
            and connection.is_closed()
        )
        if isinstance(exc, _DATABASE_ERRORS) or lost:
            rerun = "; run the import again" if lost else ""
            raise _database_failure(exc, f"nothing was committed{rerun}", lost=lost) from exc
        raise
    try:
        if options.dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
            report.committed = True
    except _DATABASE_ERRORS as exc:
        raise _database_failure(
            exc,
            "the outcome of the COMMIT is unknown: check the target with "
            "`bandwise db verify-import`, or rerun with --replace",
            lost=isinstance(exc, _LOST),
        ) from exc


async def verify_import(
    source: Path,
    target_url: str,
    settings: Settings,
    skip_tables: tuple[str, ...] = (),
    skip_columns: tuple[str, ...] = (),
) -> ImportReport:
    """Re-run the verification alone: convert ``source`` again and compare it with the target.

    Reads only; the target must hold what an import of this same source stored (a source
    written to since then no longer matches, and the report says where).
    """
    report = ImportReport(source=str(source), target=mask_url(target_url), mode="verify")
    started = time.perf_counter()
    check_sqlite_file(source)
    copy.postgres_target(target_url)
    with tempfile.TemporaryDirectory(prefix="bandwise-verify-") as scratch:
        snapshot = await asyncio.to_thread(take_snapshot, source, Path(scratch))
        converter = await asyncio.to_thread(
            _prepare,
            snapshot,
            report,
            ImportOptions(
                on_bad_rows="quarantine", skip_tables=skip_tables, skip_columns=skip_columns
            ),
        )
        await asyncio.to_thread(_convert_all, snapshot, converter)
        connection = await copy.connect(target_url, settings)
        try:
            report.versions = _versions(str(connection.get_server_version()))
            async with connection.transaction(readonly=True, isolation="repeatable_read"):
                report.verified = await verify.verify_target(
                    connection, report, expected_quarantined=len(report.quarantined)
                )
        finally:
            await _close(connection)
    report.timings["total_seconds"] = time.perf_counter() - started
    return report


def _convert_all(snapshot: Snapshot, converter: Converter) -> None:
    for _, batches in converted_tables(snapshot, converter):
        for _ in batches:
            pass


_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_LOST = (
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
    TimeoutError,
)


def _database_failure(error: BaseException, consequence: str, *, lost: bool) -> DatabaseError:
    """Return the domain error for a PostgreSQL failure (``lost``: of the connection)."""
    if lost:
        return DatabaseUnavailable(
            f"lost the connection to the target during the import "
            f"({type(error).__name__}: {error}); {consequence}"
        )
    return DatabaseError(
        f"PostgreSQL refused the import ({type(error).__name__}: {error}); {consequence}"
    )


async def _rollback(transaction: Any) -> None:
    # When the connection is gone the server rolls the transaction back itself.
    with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        await asyncio.shield(transaction.rollback())


async def _close(connection: asyncpg.Connection) -> None:
    try:
        await connection.close(timeout=5)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        connection.terminate()
