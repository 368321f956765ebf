"""The verified-import floor: PostgreSQL's own share of a verified import, with no conversion.

Takes a database that a verified import has just filled, writes its imported tables out as
COPY text (the final typed rows), then times, in one transaction that is rolled back, what
the importer asks of PostgreSQL on its one connection: lock and empty the tables, drop the
deferred constraints, COPY every table back, re-create the constraints (indexes, foreign keys
validated), and the verification's checksum scan of every table, with the importer's own
functions and session settings. No importer on one connection can finish sooner than this
(plus its own start-up), whatever its conversion costs: ``pgloader seconds ÷ floor seconds``
is the highest ratio such an importer can reach against pgloader on the same file.

``measure_parallel_floor`` times the same work spread over two connections, as a
shadow-schema import would do it (each connection's tables committed, foreign keys after,
scans on both): the ceiling for an importer that uses both cores for PostgreSQL and spends
nothing on conversion.

    .venv/bin/python benchmarks/import_vs_pgloader.py --users 20000 --floor
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from bandwise.ops.importer import copy, verify
from bandwise.ops.importer.canonical import sql_checksum
from bandwise.ops.importer.tables import TABLE_ORDER, TABLES


@dataclass(frozen=True)
class Floor:
    """Seconds of each step of PostgreSQL's share, and their total."""

    copy_seconds: float
    constraints_seconds: float
    checksum_seconds: float

    @property
    def total_seconds(self) -> float:
        """Return the whole floor."""
        return self.copy_seconds + self.constraints_seconds + self.checksum_seconds


async def _dump(url: str, folder: Path) -> dict[str, Path]:
    connection = await asyncpg.connect(url)
    files: dict[str, Path] = {}
    try:
        for name in TABLE_ORDER:
            files[name] = folder / f"{name}.copy"
            await connection.copy_from_table(
                name, output=str(files[name]), columns=list(TABLES[name].column_names)
            )
    finally:
        await connection.close()
    return files


async def _timed_load(url: str, files: dict[str, Path]) -> Floor:
    connection = await asyncpg.connect(url)
    try:
        transaction = connection.transaction()
        await transaction.start()
        emptied = await copy.prepare_target(connection, replace=True)
        deferred = await copy.drop_constraints(connection)
        started = time.perf_counter()
        for name in TABLE_ORDER:
            await connection.copy_to_table(
                name,
                source=str(files[name]),
                columns=list(TABLES[name].column_names),
                freeze=emptied or None,  # as the importer sends its text tables
            )
        copied = time.perf_counter()
        for setting in verify.PARALLEL_SETTINGS:
            await connection.execute(f"SET LOCAL {setting}")
        await copy.restore_constraints(connection, deferred)
        constrained = time.perf_counter()
        for name in TABLE_ORDER:
            await connection.fetch(sql_checksum(name, TABLES[name].checksum_columns))
        checked = time.perf_counter()
        await transaction.rollback()
    finally:
        await connection.close()
    return Floor(copied - started, constrained - copied, checked - constrained)


def _shares(files: dict[str, Path], connections: int) -> list[list[str]]:
    """Split the tables over ``connections`` by size, largest first, each to the lightest."""
    shares: list[list[str]] = [[] for _ in range(connections)]
    sizes = [0] * connections
    for name in sorted(files, key=lambda table: files[table].stat().st_size, reverse=True):
        lightest = sizes.index(min(sizes))
        shares[lightest].append(name)
        sizes[lightest] += files[name].stat().st_size
    return shares


async def _load_share(
    connection: asyncpg.Connection,
    share: list[str],
    files: dict[str, Path],
    deferred: copy.DeferredConstraints,
) -> None:
    """COPY ``share``'s tables and re-create their own indexes in one committed transaction."""
    async with connection.transaction():
        await copy.prefer_lz4(connection)
        await connection.execute("SET LOCAL TimeZone = 'UTC'")
        for name in share:
            await connection.copy_to_table(
                name, source=str(files[name]), columns=list(TABLES[name].column_names)
            )
        await verify.allow_parallel_scans(connection)
        await copy.restore_constraints(connection, deferred, share)


async def _scan_share(connection: asyncpg.Connection, share: list[str]) -> None:
    for name in share:
        await connection.fetch(sql_checksum(name, TABLES[name].checksum_columns))


async def _timed_parallel_load(url: str, files: dict[str, Path], connections: int) -> Floor:
    """Time the same work spread over ``connections`` connections, each table committed.

    What a shadow-schema import would ask: every connection COPYs its share of the tables
    (balanced by size) and re-creates their indexes, the foreign keys follow on one connection,
    then the checksum scans run on all of them. The scratch database is left loaded.
    """
    control = await asyncpg.connect(url)
    workers = [await asyncpg.connect(url) for _ in range(connections)]
    try:
        async with control.transaction():  # not timed: what the load starts from
            await copy.prepare_target(control, replace=True)
            deferred = await copy.drop_constraints(control)
        shares = _shares(files, connections)
        started = time.perf_counter()
        pairs = list(zip(workers, shares, strict=True))
        await asyncio.gather(*(_load_share(w, share, files, deferred) for w, share in pairs))
        copied = time.perf_counter()
        async with control.transaction():
            await verify.allow_parallel_scans(control)
            await copy.restore_constraints(control, deferred)
        constrained = time.perf_counter()
        await asyncio.gather(*(_scan_share(w, share) for w, share in pairs))
        checked = time.perf_counter()
    finally:
        for connection in (control, *workers):
            await connection.close()
    # COPY here includes each share's own index builds (they run on its connection).
    return Floor(copied - started, constrained - copied, checked - constrained)


def measure_floor(imported_url: str, scratch_url: str, scratch: Path) -> Floor:
    """Return the floor for the rows of ``imported_url``, loaded into ``scratch_url``.

    ``scratch_url``: a database with the same schema (e.g. a template copy of the imported
    one), which the timed transaction empties and fills, then leaves as it was (rollback).
    """
    with tempfile.TemporaryDirectory(prefix="floor-", dir=scratch) as folder:
        files = asyncio.run(_dump(imported_url, Path(folder)))
        return asyncio.run(_timed_load(scratch_url, files))


def measure_parallel_floor(
    imported_url: str, scratch_url: str, scratch: Path, connections: int = 2
) -> Floor:
    """Return the floor of the same rows loaded on ``connections`` connections at once.

    ``scratch_url`` is left holding the rows (each share commits); pass a fresh copy.
    """
    with tempfile.TemporaryDirectory(prefix="floor-", dir=scratch) as folder:
        files = asyncio.run(_dump(imported_url, Path(folder)))
        return asyncio.run(_timed_parallel_load(scratch_url, files, connections))
