"""The PostgreSQL side of an import: one connection, one transaction, COPY, constraints after.

Everything here runs inside the caller's transaction: truncation (``--replace``), dropping
and re-creating foreign keys and secondary indexes around the load, COPY of every table,
quarantined rows, and sequences. A failure or a lost connection rolls all of it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, Awaitable, Collection
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL, make_url

from bandwise.config import Settings, mask_url, normalise_database_url
from bandwise.db.errors import Diagnosis, diagnose, unavailable
from bandwise.errors import Conflict, InvalidInput
from bandwise.ops.importer.report import QuarantinedRow
from bandwise.ops.importer.tables import APP_TABLES, TABLE_ORDER, TableSpec


def postgres_target(target_url: str) -> URL:
    """Return the parsed target URL; raise InvalidInput unless it is a PostgreSQL URL."""
    try:
        url = make_url(normalise_database_url(target_url))
    except ValueError as exc:
        raise InvalidInput(f"target URL {exc}", field="target") from exc
    if url.get_backend_name() != "postgresql":
        raise InvalidInput(
            "the import target must be a PostgreSQL URL (postgresql://…)", field="target"
        )
    return url


async def connect(target_url: str, settings: Settings) -> asyncpg.Connection:
    """Open one asyncpg connection to the PostgreSQL ``target_url`` (no statement timeout)."""
    url = postgres_target(target_url)
    try:
        return await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
            ssl=url.query.get("ssl"),
            timeout=settings.db_connect_timeout,
            server_settings={"application_name": f"{settings.db_application_name}-import"},
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        target = mask_url(url)
        raise unavailable(
            diagnose(exc, target) or Diagnosis(str(exc), "check that PostgreSQL is reachable"),
            target,
        ) from exc


async def prepare_target(connection: asyncpg.Connection, *, replace: bool) -> bool:
    """Lock the app tables; refuse a non-empty target unless ``replace`` (then truncate).

    Returns whether the app tables were emptied by this transaction: then COPY may write
    their rows frozen (:func:`copy_text`).
    """
    tables = ", ".join(f'"{name}"' for name in APP_TABLES)
    await connection.execute("SET LOCAL statement_timeout = 0")
    # The SQL fast path sends timestamps as the legacy bot stored them: naive UTC.
    await connection.execute("SET LOCAL TimeZone = 'UTC'")
    await prefer_lz4(connection)
    await connection.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
    found: dict[str, int] = {}
    for name in APP_TABLES:
        found[name] = int(await connection.fetchval(f'SELECT count(*) FROM "{name}"'))
    if any(found.values()):
        if not replace:
            listed = ", ".join(f"{name}: {count}" for name, count in found.items() if count)
            raise Conflict(
                f"the target database is not empty ({listed}); use --replace to replace its data"
            )
        # CASCADE: tables of later features referencing users go with them (replace = replace).
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        return True
    if await _referenced_from_outside(connection):
        return False  # TRUNCATE would refuse (or, with CASCADE, empty another table)
    # Empty already: truncating them costs nothing, and lets COPY FREEZE load them.
    await connection.execute(f"TRUNCATE {tables}")
    return True


async def _referenced_from_outside(connection: asyncpg.Connection) -> bool:
    """Tell whether a table other than the app tables has a foreign key to one of them."""
    return bool(
        await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' "
            "AND confrelid::regclass::text = ANY($1::text[]) "
            "AND NOT conrelid::regclass::text = ANY($1::text[]))",
            list(APP_TABLES),
        )
    )


async def prefer_lz4(connection: asyncpg.Connection) -> None:
    """Compress the loaded essays and feedback with lz4 when the server has it.

    Essays and feedback are long enough to be compressed by TOAST; lz4 costs the server a
    fraction of the default pglz on the way in and again when verification reads them back.
    Readers see no difference.
    """
    choices = await connection.fetchval(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    if choices and "lz4" in choices:
        await connection.execute("SET LOCAL default_toast_compression = 'lz4'")


@dataclass(frozen=True)
class Constraint:
    """A dropped index or foreign key: the statement re-creating it, the tables it reads."""

    statement: str
    tables: frozenset[str]  # of the imported ones: all loaded before it can be re-created


@dataclass
class DeferredConstraints:
    """Indexes and foreign keys dropped for the load, in the order they are re-created."""

    pending: list[Constraint] = field(default_factory=list)

    def take_ready(self, loaded: Collection[str] | None) -> list[Constraint]:
        """Remove and return those whose tables are all ``loaded`` (all of them for None)."""
        ready = [c for c in self.pending if loaded is None or c.tables <= set(loaded)]
        self.pending = [c for c in self.pending if c not in ready]
        return ready


async def drop_constraints(connection: asyncpg.Connection) -> DeferredConstraints:
    """Drop the foreign keys and non-unique indexes of the imported tables (re-created later)."""
    tables = list(TABLE_ORDER)
    foreign_keys = await connection.fetch(
        "SELECT conname, conrelid::regclass::text AS tbl, confrelid::regclass::text AS parent, "
        "pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY($1::text[]) "
        "ORDER BY conname",
        tables,
    )
    indexes = await connection.fetch(
        "SELECT i.indexrelid::regclass::text AS name, i.indrelid::regclass::text AS tbl, "
        "pg_get_indexdef(i.indexrelid) AS def "
        "FROM pg_index i WHERE i.indrelid::regclass::text = ANY($1::text[]) "
        "AND NOT i.indisunique AND NOT i.indisprimary ORDER BY 1",
        tables,
    )
    deferred = DeferredConstraints()
    # Indexes first: a table's foreign key is validated once its own indexes are back.
    for row in indexes:
        deferred.pending.append(Constraint(row["def"], frozenset({row["tbl"]})))
    for row in foreign_keys:
        deferred.pending.append(
            Constraint(
                f'ALTER TABLE "{row["tbl"]}" ADD CONSTRAINT "{row["conname"]}" {row["def"]}',
                frozenset({row["tbl"], row["parent"]}) & set(tables),
            )
        )
    for row in foreign_keys:
        await connection.execute(f'ALTER TABLE "{row["tbl"]}" DROP CONSTRAINT "{row["conname"]}"')
    for row in indexes:
        await connection.execute(f'DROP INDEX "{row["name"]}"')
    return deferred


async def restore_constraints(
    connection: asyncpg.Connection,
    deferred: DeferredConstraints,
    loaded: Collection[str] | None = None,
) -> None:
    """Re-create the dropped indexes and foreign keys whose tables are all ``loaded``.

    ``loaded``: the tables whose rows are all in (None: every table). A foreign key is
    validated against every row of its table and its parent when it is re-created.
    """
    for constraint in deferred.take_ready(loaded):
        await connection.execute(constraint.statement)


async def copy_rows(
    connection: asyncpg.Connection, spec: TableSpec, records: AsyncIterable[tuple[Any, ...]]
) -> None:
    """COPY ``records`` into ``spec``'s table (binary protocol, streamed)."""
    await _unless_lost(
        connection,
        connection.copy_records_to_table(
            spec.name, records=records, columns=list(spec.column_names)
        ),
    )


async def copy_text(
    connection: asyncpg.Connection,
    spec: TableSpec,
    chunks: AsyncIterable[bytes],
    *,
    freeze: bool = False,
) -> None:
    """COPY ``chunks`` of COPY text format into ``spec``'s table (streamed).

    ``freeze``: write the rows frozen (allowed only in a table emptied by this transaction,
    see :func:`prepare_target`). PostgreSQL then sets their hint bits and marks their pages
    all-visible as it writes them, rather than on the first reads and vacuums after the
    import: fewer writes of every imported page later, and a cheaper load and checksum scan.
    """
    await _unless_lost(
        connection,
        connection.copy_to_table(
            spec.name,
            source=chunks,
            columns=list(spec.column_names),
            format="text",
            freeze=freeze or None,
        ),
    )


async def _unless_lost(connection: asyncpg.Connection, copying: Awaitable[Any]) -> None:
    """Await a COPY; raise ConnectionDoesNotExistError at once if the connection is lost.

    asyncpg's COPY waits for its transport to accept more data before each message; when
    the connection is lost while that transport is paused (the server fell behind, then went
    away), nothing wakes the wait and the COPY would hang forever, the import with it. The
    connection's termination listener (called on any loss) ends the wait instead.
    """
    lost = asyncio.Event()

    def on_lost(_: Any) -> None:
        lost.set()

    connection.add_termination_listener(on_lost)
    task = asyncio.ensure_future(copying)
    watch = asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if task.done() or not lost.is_set():
            await task  # its own outcome (a COPY that failed on the loss says so itself)
            return
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise asyncpg.ConnectionDoesNotExistError("the connection was lost during the COPY")
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
        connection.remove_termination_listener(on_lost)


async def write_quarantine(connection: asyncpg.Connection, rows: list[QuarantinedRow]) -> None:
    """Store set-aside legacy rows in ``import_quarantine`` with their reasons."""
    if not rows:
        return
    await connection.executemany(
        "INSERT INTO import_quarantine (source_table, source_id, reason, row_data, quarantined_at) "
        "VALUES ($1, $2, $3, $4::jsonb, now())",
        [
            (row.table, row.source_id, row.reason, json.dumps(row.row_data, default=str))
            for row in rows
        ],
    )


async def advance_sequences(connection: asyncpg.Connection) -> dict[str, int]:
    """Set every imported table's id sequence past its largest id; return the next values."""
    values: dict[str, int] = {}
    for name in APP_TABLES:
        next_value = await connection.fetchval(
            f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
            f'coalesce((SELECT max(id) FROM "{name}"), 0) + 1, false)'
        )
        values[name] = int(next_value)
    return values
