"""The verified-import floor: PostgreSQL's own share of a verified import, with no conversion.

Takes a database that a verified import has just filled, writes its imported tables out as
COPY text (the final typed rows), then times, in one transaction that is rolled back, what
the importer asks of PostgreSQL on its one connection: lock and empty the tables, drop the
deferred constraints, COPY every table back, re-create the constraints (indexes, foreign keys
validated), and the verification's checksum scan of every table, with the importer's own
functions and session settings. No importer on one connection can finish sooner than this
(plus its own start-up), whatever its conversion costs: ``pgloader seconds ÷ floor seconds``
is the highest ratio such an importer can reach against pgloader on the same file.

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
        await copy.prepare_target(connection, replace=True)
        deferred = await copy.drop_constraints(connection)
        started = time.perf_counter()
        for name in TABLE_ORDER:
            await connection.copy_to_table(
                name, source=str(files[name]), columns=list(TABLES[name].column_names)
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


def measure_floor(imported_url: str, scratch_url: str, scratch: Path) -> Floor:
    """Return the floor for the rows of ``imported_url``, loaded into ``scratch_url``.

    ``scratch_url``: a database with the same schema (e.g. a template copy of the imported
    one), which the timed transaction empties and fills, then leaves as it was (rollback).
    """
    with tempfile.TemporaryDirectory(prefix="floor-", dir=scratch) as folder:
        files = asyncio.run(_dump(imported_url, Path(folder)))
        return asyncio.run(_timed_load(scratch_url, files))
