"""Collect database statistics with cheap catalog queries (PostgreSQL) or a file size (SQLite).

One collection is a handful of reads of ``pg_stat_*`` views bounded by a statement timeout;
``StatsExporter`` turns the latest snapshot into Prometheus metrics at scrape time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bandwise.db.engine import describe_target
from bandwise.db.errors import short_cause
from bandwise.models import Submission

log = logging.getLogger(__name__)

MAX_TABLES = 50
SLOWEST_STATEMENTS = 5


@dataclass
class TableStats:
    """Vacuum-related numbers of one table."""

    name: str
    live_tuples: int
    dead_tuples: int
    last_autovacuum: float | None
    total_bytes: int


@dataclass
class DatabaseStats:
    """One snapshot of the database's health (no statement text, no personal data)."""

    engine: str
    collected_at: float
    up: bool
    error: str | None = None
    size_bytes: int = 0
    server_version: str | None = None
    max_connections: int | None = None
    connections: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    rollbacks: int = 0
    deadlocks: int = 0
    temp_bytes: int = 0
    blocks_hit: int = 0
    blocks_read: int = 0
    longest_transaction_seconds: float = 0.0
    waiting_locks: int = 0
    tables: list[TableStats] = field(default_factory=list)
    replication_lag_seconds: dict[str, float] = field(default_factory=dict)
    slowest_statements: list[tuple[str, int, float]] = field(default_factory=list)
    latest_submission_id: int = 0

    @property
    def total_connections(self) -> int:
        """Return the server's client connections in every state."""
        return sum(self.connections.values())

    @property
    def idle_in_transaction(self) -> int:
        """Return the connections idle inside an open transaction."""
        return sum(
            count
            for state, count in self.connections.items()
            if state.startswith("idle in transaction")
        )

    @property
    def cache_hit_ratio(self) -> float | None:
        """Return the share of block reads served from shared buffers (None before any read)."""
        total = self.blocks_hit + self.blocks_read
        return self.blocks_hit / total if total else None


def _sqlite_snapshot(database: Path, stats: DatabaseStats) -> None:
    # A read-only connection of its own: the engine's connections begin IMMEDIATE (a write
    # lock), which a statistics reader must not take every few seconds.
    if not database.is_file():
        raise FileNotFoundError(f"SQLite file {database} does not exist")
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=2)) as db:
        stats.server_version = str(db.execute("SELECT sqlite_version()").fetchone()[0])
        try:
            row = db.execute("SELECT max(id) FROM submissions").fetchone()
            stats.latest_submission_id = int(row[0] or 0)
        except sqlite3.OperationalError:  # not migrated yet
            stats.latest_submission_id = 0
    stats.size_bytes = sum(
        path.stat().st_size for path in (database, Path(f"{database}-wal")) if path.exists()
    )


async def _latest_submission_id(connection: AsyncConnection) -> int:
    # max(id) walks the primary key's index: cheap at any table size.
    if await connection.scalar(text("SELECT to_regclass('submissions')")) is None:
        return 0  # not migrated yet
    value = await connection.scalar(select(func.max(Submission.id)))
    return int(value or 0)


async def _collect_postgres(connection: AsyncConnection, stats: DatabaseStats) -> None:
    await connection.execute(text("SET LOCAL statement_timeout = '5s'"))
    stats.server_version = str(await connection.scalar(text("SHOW server_version")))
    stats.max_connections = int(await connection.scalar(text("SHOW max_connections")) or 0)
    rows = await connection.execute(
        text(
            "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' GROUP BY 1"
        )
    )
    stats.connections = {str(state): int(count) for state, count in rows}
    row = (
        await connection.execute(
            text(
                "SELECT pg_database_size(datname), xact_commit, xact_rollback, deadlocks, "
                "temp_bytes, "
                "blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()"
            )
        )
    ).one()
    (
        stats.size_bytes,
        stats.commits,
        stats.rollbacks,
        stats.deadlocks,
        stats.temp_bytes,
        stats.blocks_hit,
        stats.blocks_read,
    ) = (int(value or 0) for value in row)
    stats.longest_transaction_seconds = float(
        await connection.scalar(
            text(
                "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0) "
                "FROM pg_stat_activity WHERE xact_start IS NOT NULL "
                "AND datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        )
        or 0
    )
    stats.waiting_locks = int(
        await connection.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")) or 0
    )
    rows = await connection.execute(
        text(
            "SELECT relname, n_live_tup, n_dead_tup, extract(epoch FROM last_autovacuum), "
            "pg_total_relation_size(relid) FROM pg_stat_user_tables "
            "ORDER BY pg_total_relation_size(relid) DESC LIMIT :limit"
        ),
        {"limit": MAX_TABLES},
    )
    stats.tables = [
        TableStats(
            str(name),
            int(live or 0),
            int(dead or 0),
            float(vacuumed) if vacuumed is not None else None,
            int(size or 0),
        )
        for name, live, dead, vacuumed, size in rows
    ]
    in_recovery = bool(await connection.scalar(text("SELECT pg_is_in_recovery()")))
    if in_recovery:
        lag = await connection.scalar(
            text("SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())")
        )
        stats.replication_lag_seconds = {"self": float(lag or 0.0)}
    else:
        rows = await connection.execute(
            text(
                "SELECT coalesce(nullif(application_name, ''), 'replica_' || pid), "
                "coalesce(extract(epoch FROM replay_lag), 0) FROM pg_stat_replication"
            )
        )
        stats.replication_lag_seconds = {str(name): float(lag) for name, lag in rows}
    stats.latest_submission_id = await _latest_submission_id(connection)
    installed = await connection.scalar(
        text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
    )
    if installed:
        await _collect_statements(connection, stats)


async def _collect_statements(connection: AsyncConnection, stats: DatabaseStats) -> None:
    # Only query ids leave here: statement text may carry literals (essays, names).
    try:
        async with connection.begin_nested():
            rows = await connection.execute(
                text(
                    "SELECT queryid::text, calls, mean_exec_time / 1000.0 FROM pg_stat_statements "
                    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "ORDER BY mean_exec_time DESC LIMIT :limit"
                ),
                {"limit": SLOWEST_STATEMENTS},
            )
            stats.slowest_statements = [
                (str(qid), int(calls), float(mean)) for qid, calls, mean in rows
            ]
    except Exception as error:
        log.debug("pg_stat_statements unreadable: %s", type(error).__name__)


async def collect_database_stats(
    engine: AsyncEngine, budget_seconds: float = 10.0
) -> DatabaseStats:
    """Return one snapshot; a failure gives ``up=False`` with the error's kind, never raises."""
    stats = DatabaseStats(engine=engine.dialect.name, collected_at=time.time(), up=False)

    async def collect() -> None:
        if engine.dialect.name == "sqlite":
            await asyncio.to_thread(_sqlite_snapshot, Path(engine.url.database or ""), stats)
            return
        async with engine.connect() as connection, connection.begin():
            await _collect_postgres(connection, stats)

    try:
        await asyncio.wait_for(collect(), budget_seconds)
        stats.up = True
    except Exception as error:
        stats.error = (
            "timed out"
            if isinstance(error, TimeoutError)
            else short_cause(error, describe_target(engine))
        )
        log.debug("database statistics not collected: %s", stats.error)
    return stats


class StatsExporter(Collector):
    """Export the latest ``DatabaseStats`` snapshot as Prometheus metrics."""

    def __init__(self) -> None:
        self.latest: DatabaseStats | None = None

    def collect(self) -> Iterator[Metric]:
        stats = self.latest
        if stats is None:
            return
        yield GaugeMetricFamily(
            "bandwise_db_up",
            "1 when the last statistics collection succeeded.",
            value=1.0 if stats.up else 0.0,
        )
        yield GaugeMetricFamily(
            "bandwise_db_stats_timestamp_seconds",
            "Unix time of the last statistics collection.",
            value=stats.collected_at,
        )
        if not stats.up:
            return
        yield GaugeMetricFamily(
            "bandwise_db_size_bytes", "Database size (SQLite: file + WAL).", value=stats.size_bytes
        )
        if stats.engine != "postgresql":
            return
        yield from _postgres_families(stats)


def _postgres_families(stats: DatabaseStats) -> Iterator[Metric]:
    connections = GaugeMetricFamily(
        "bandwise_pg_connections", "Client connections by state.", labels=["state"]
    )
    for state, count in sorted(stats.connections.items()):
        connections.add_metric([state.replace(" ", "_")], count)
    yield connections
    yield GaugeMetricFamily(
        "bandwise_pg_max_connections", "Server max_connections.", value=stats.max_connections or 0
    )
    counters: list[tuple[str, str, float]] = [
        ("bandwise_pg_xact_commit", "Transactions committed.", stats.commits),
        ("bandwise_pg_xact_rollback", "Transactions rolled back.", stats.rollbacks),
        ("bandwise_pg_deadlocks", "Deadlocks detected.", stats.deadlocks),
        ("bandwise_pg_temp_bytes", "Bytes written to temporary files.", stats.temp_bytes),
        ("bandwise_pg_blks_hit", "Block reads served from shared buffers.", stats.blocks_hit),
        ("bandwise_pg_blks_read", "Block reads from disk or OS cache.", stats.blocks_read),
    ]
    for name, documentation, value in counters:
        yield CounterMetricFamily(name, documentation, value=value)
    ratio = stats.cache_hit_ratio
    if ratio is not None:
        yield GaugeMetricFamily(
            "bandwise_pg_cache_hit_ratio", "Share of block reads from cache.", value=ratio
        )
    simple: list[tuple[str, str, float]] = [
        (
            "bandwise_pg_longest_transaction_seconds",
            "Age of the oldest open transaction.",
            stats.longest_transaction_seconds,
        ),
        (
            "bandwise_pg_idle_in_transaction",
            "Connections idle inside a transaction.",
            stats.idle_in_transaction,
        ),
        ("bandwise_pg_waiting_locks", "Lock requests not yet granted.", stats.waiting_locks),
    ]
    for name, documentation, value in simple:
        yield GaugeMetricFamily(name, documentation, value=value)
    yield from _table_families(stats)
    lag = GaugeMetricFamily(
        "bandwise_pg_replication_lag_seconds", "Replay lag per replica.", labels=["replica"]
    )
    for replica, seconds in sorted(stats.replication_lag_seconds.items()):
        lag.add_metric([replica], seconds)
    yield lag
    slow = GaugeMetricFamily(
        "bandwise_pg_statement_mean_seconds",
        "Mean time of the slowest statements (pg_stat_statements query id).",
        labels=["queryid"],
    )
    for queryid, _calls, mean in stats.slowest_statements:
        slow.add_metric([queryid], mean)
    yield slow


def _table_families(stats: DatabaseStats) -> Iterator[Metric]:
    families: dict[str, Any] = {
        "dead": GaugeMetricFamily(
            "bandwise_pg_table_dead_tuples", "Dead tuples per table.", labels=["table"]
        ),
        "live": GaugeMetricFamily(
            "bandwise_pg_table_live_tuples", "Live tuples per table.", labels=["table"]
        ),
        "vacuum": GaugeMetricFamily(
            "bandwise_pg_table_last_autovacuum_timestamp_seconds",
            "Unix time of the table's last autovacuum.",
            labels=["table"],
        ),
        "bytes": GaugeMetricFamily(
            "bandwise_pg_table_size_bytes", "Table size with indexes.", labels=["table"]
        ),
    }
    for table in stats.tables:
        families["dead"].add_metric([table.name], table.dead_tuples)
        families["live"].add_metric([table.name], table.live_tuples)
        families["bytes"].add_metric([table.name], table.total_bytes)
        if table.last_autovacuum is not None:
            families["vacuum"].add_metric([table.name], table.last_autovacuum)
    yield from families.values()
