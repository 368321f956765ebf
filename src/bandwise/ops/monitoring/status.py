"""What `bandwise db status` and the /admin page show: one ``DatabaseStatus`` snapshot."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bandwise.config import Settings
from bandwise.db import migrate
from bandwise.db.engine import describe_target, reader
from bandwise.db.errors import is_lock_wait, read_failure
from bandwise.models import Base
from bandwise.ops.monitoring.alerts import FiringAlert
from bandwise.ops.monitoring.backups import BackupRecord, backup_origin, list_backups
from bandwise.ops.monitoring.notify import iso_utc
from bandwise.ops.monitoring.pg_stats import DatabaseStats, collect_database_stats
from bandwise.ops.monitoring.rules import DEFAULT_RULES, Observation, without_hold

BIGGEST_TABLES = 5
STATUS_TIMEOUT = 5.0
# Parts of the status read beside the statistics; a lock held over them makes them stale.
SCHEMA = "schema"
ROW_COUNTS = "row counts"


@dataclass
class PoolStatus:
    """The connection pool as configured, and as used when a running service reports it."""

    size: int
    max_overflow: int
    timeout_seconds: float
    checked_out: int | None = None


@dataclass
class DatabaseStatus:
    """Everything an operator checks first; no secrets, no personal data."""

    engine: str
    target: str
    up: bool
    error: str | None
    server_version: str | None
    schema_revision: str | None
    head_revision: str
    pool: PoolStatus
    connections: dict[str, int]
    max_connections: int | None
    size_bytes: int
    biggest_tables: list[tuple[str, int, str]]  # (table, amount, unit: bytes|rows)
    last_backup: BackupRecord | None
    firing_alerts: list[FiringAlert] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)  # sections not read (and why)
    collected_at: float = field(default_factory=time.time)

    @property
    def schema_known(self) -> bool:
        """Tell whether the schema revision was read (not when the database is down or busy)."""
        return self.up and SCHEMA not in self.stale

    @property
    def schema_at_head(self) -> bool | None:
        """Tell whether the schema is this code's head revision (None: unknown)."""
        return self.schema_revision == self.head_revision if self.schema_known else None

    def availability_text(self) -> str:
        """Return "up", "up (statistics stale: …)" or "DOWN (why)"."""
        if not self.up:
            return f"DOWN ({self.error or 'no answer'})"
        if self.stale:
            parts = ", ".join(f"{name}: {why}" for name, why in sorted(self.stale.items()))
            return f"up (statistics stale: {parts})"
        return "up"

    def schema_text(self) -> str:
        """Return the schema line: revision and how it compares with the code's head."""
        if not self.schema_known:
            why = self.stale.get(SCHEMA, "database unreachable")
            return f"unknown ({why}; code expects {self.head_revision})"
        state = "at head" if self.schema_at_head else f"code expects {self.head_revision}"
        return f"{self.schema_revision or 'base (empty database)'} ({state})"

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form (`bandwise db status --json`)."""
        return {
            "engine": self.engine,
            "target": self.target,
            "up": self.up,
            "statistics_stale": self.stale,
            "error": self.error,
            "server_version": self.server_version,
            "schema": {
                "revision": self.schema_revision,
                "head": self.head_revision,
                "known": self.schema_known,
                "at_head": self.schema_at_head,
            },
            "pool": {
                "size": self.pool.size,
                "max_overflow": self.pool.max_overflow,
                "timeout_seconds": self.pool.timeout_seconds,
                "checked_out": self.pool.checked_out,
            },
            "connections": {
                "by_state": self.connections,
                "total": sum(self.connections.values()),
                "max": self.max_connections,
            },
            "size_bytes": self.size_bytes,
            "biggest_tables": [
                {"table": name, "amount": amount, "unit": unit}
                for name, amount, unit in self.biggest_tables
            ],
            "last_backup": self.last_backup.as_dict() if self.last_backup else None,
            "firing_alerts": [
                {
                    "name": a.name,
                    "severity": a.severity,
                    "summary": a.summary,
                    "detail": a.detail,
                    "since": iso_utc(a.since),
                }
                for a in self.firing_alerts
            ],
            "collected_at": iso_utc(self.collected_at),
        }


async def _sqlite_table_rows(engine: AsyncEngine) -> list[tuple[str, int, str]]:
    async def count(connection: AsyncConnection) -> list[tuple[str, int, str]]:
        present = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        rows: list[tuple[str, int, str]] = []
        for table in Base.metadata.sorted_tables:
            if table.name in present:
                amount = await connection.scalar(select(func.count()).select_from(table))
                rows.append((table.name, int(amount or 0), "rows"))
        return rows

    async with reader(engine) as probe, probe.connect() as connection:
        rows = await count(connection)
    return sorted(rows, key=lambda row: row[1], reverse=True)[:BIGGEST_TABLES]


def _biggest_postgres_tables(stats: DatabaseStats) -> list[tuple[str, int, str]]:
    ordered = sorted(stats.tables, key=lambda table: table.total_bytes, reverse=True)
    return [(table.name, table.total_bytes, "bytes") for table in ordered[:BIGGEST_TABLES]]


def one_shot_alerts(stats: DatabaseStats, backups: list[BackupRecord]) -> list[FiringAlert]:
    """Evaluate the instantaneous alert conditions once (no history, no hold time)."""
    observation = Observation(stats=stats, backups=backups, now=stats.collected_at)
    firing: list[FiringAlert] = []
    for rule in without_hold(DEFAULT_RULES):
        check = rule.condition(observation)
        if check is not None and check.holds:
            firing.append(
                FiringAlert(
                    rule.name, rule.severity, rule.summary, check.detail, stats.collected_at
                )
            )
    return firing


async def collect_status(
    engine: AsyncEngine,
    settings: Settings,
    *,
    stats: DatabaseStats | None = None,
    firing: list[FiringAlert] | None = None,
    checked_out: int | None = None,
) -> DatabaseStatus:
    """Gather the status of ``engine``'s database (a running service passes its own views)."""
    stats = stats if stats is not None else await collect_database_stats(engine)
    revision: str | None = None
    tables: list[tuple[str, int, str]] = []
    stale = dict(stats.stale)
    if stats.up:
        # Each read waits READ_LOCK_TIMEOUT (engine.py) at most for a lock: a lock held makes the
        # part stale (busy), never the database down, and the status answers meanwhile.
        part = SCHEMA
        try:
            revision = await asyncio.wait_for(migrate.current_revision(engine), STATUS_TIMEOUT)
            part = ROW_COUNTS
            tables = (
                _biggest_postgres_tables(stats)
                if stats.engine == "postgresql"
                else await asyncio.wait_for(_sqlite_table_rows(engine), STATUS_TIMEOUT)
            )
        except Exception as error:
            if is_lock_wait(error):
                stale[part] = read_failure(error)
            else:
                stats = replace(stats, up=False, error=read_failure(error))
    backups = list_backups(settings.backup_dir, backup_origin(engine.url))
    return DatabaseStatus(
        engine=engine.dialect.name,
        target=describe_target(engine),
        up=stats.up,
        stale=stale,
        error=stats.error,
        server_version=stats.server_version,
        schema_revision=revision,
        head_revision=migrate.head_revision(),
        pool=PoolStatus(
            settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout, checked_out
        ),
        connections=dict(stats.connections),
        max_connections=stats.max_connections,
        size_bytes=stats.size_bytes,
        biggest_tables=tables,
        last_backup=backups[0] if backups else None,
        firing_alerts=firing if firing is not None else one_shot_alerts(stats, backups),
    )
