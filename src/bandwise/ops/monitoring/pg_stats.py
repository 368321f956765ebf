"""Collect database statistics with cheap catalog queries (PostgreSQL) or a file size (SQLite).

A collection first asks whether the database answers (connect, server version): that alone
decides ``up``. The statistics are then read section by section, each in its own short
transaction bounded by a lock timeout and a statement timeout, so a lock on one table makes
that section *stale* (named in ``DatabaseStats.stale``), never the database "down".
``StatsExporter`` turns the latest snapshot into Prometheus metrics at scrape time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bandwise.db.engine import describe_target
from bandwise.db.errors import error_kind, is_disconnect, short_cause
from bandwise.models import Submission

log = logging.getLogger(__name__)

MAX_TABLES = 50
SLOWEST_STATEMENTS = 5
# Per statistics query: how long to wait for a lock, and to run at all (server side; the
# client gives up STATS_CLIENT_MARGIN later in case the server does not answer at all).
STATS_LOCK_TIMEOUT = 1.0
STATS_QUERY_TIMEOUT = 3.0
STATS_CLIENT_MARGIN = 1.0

# The sections of a snapshot, each read (and possibly stale) on its own.
ACTIVITY = "activity"  # connections by state, the oldest transaction, waiting locks
COUNTERS = "counters"  # pg_stat_database: size, commits, rollbacks, deadlocks, blocks
TABLES = "tables"  # per-table tuples, sizes, autovacuum
REPLICATION = "replication"
SUBMISSIONS = "submissions"  # the newest submission id (the submissions chart)


@dataclass
class TableStats:
    """Vacuum-related numbers of one table."""

    name: str
    live_tuples: int
    dead_tuples: int
    last_autovacuum: float | None
    total_bytes: int


@dataclass(frozen=True)
class SessionInfo:
    """The session holding the oldest open transaction (no query text: it may carry data)."""

    pid: int
    application: str
    state: str
    transaction_start: float | None
    query_start: float | None


@dataclass
class DatabaseStats:
    """One snapshot of the database's health (no statement text, no personal data)."""

    engine: str
    collected_at: float
    up: bool
    error: str | None = None
    target: str = ""  # the database, password masked
    stale: dict[str, str] = field(default_factory=dict)  # section -> why it was not read
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
    oldest_session: SessionInfo | None = None
    waiting_locks: int = 0
    tables: list[TableStats] = field(default_factory=list)
    replication_lag_seconds: dict[str, float] = field(default_factory=dict)
    slowest_statements: list[tuple[str, int, float]] = field(default_factory=list)
    latest_submission_id: int = 0

    def has(self, section: str) -> bool:
        """Tell whether ``section`` was read in this snapshot."""
        return self.up and section not in self.stale

    @property
    def complete(self) -> bool:
        """Tell whether the database answered and every section was read."""
        return self.up and not self.stale

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
        stats.up = True
        try:
            row = db.execute("SELECT max(id) FROM submissions").fetchone()
            stats.latest_submission_id = int(row[0] or 0)
        except sqlite3.OperationalError as error:
            if "no such table" not in str(error):  # not migrated yet is not stale
                stats.stale[SUBMISSIONS] = str(error)
    stats.size_bytes = sum(
        path.stat().st_size for path in (database, Path(f"{database}-wal")) if path.exists()
    )


async def _read_activity(connection: AsyncConnection, stats: DatabaseStats) -> None:
    rows = await connection.execute(
        text(
            "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' GROUP BY 1"
        )
    )
    stats.connections = {str(state): int(count) for state, count in rows}
    oldest = (
        await connection.execute(
            text(
                "SELECT pid, coalesce(application_name, ''), coalesce(state, 'unknown'), "
                "extract(epoch FROM xact_start), extract(epoch FROM query_start), "
                "extract(epoch FROM clock_timestamp() - xact_start) "
                "FROM pg_stat_activity WHERE xact_start IS NOT NULL "
                "AND datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                "ORDER BY xact_start LIMIT 1"
            )
        )
    ).first()
    if oldest is None:
        stats.longest_transaction_seconds, stats.oldest_session = 0.0, None
    else:
        pid, application, state, started, queried, age = oldest
        stats.longest_transaction_seconds = float(age or 0.0)
        stats.oldest_session = SessionInfo(
            int(pid),
            str(application),
            str(state),
            float(started) if started is not None else None,
            float(queried) if queried is not None else None,
        )
    stats.waiting_locks = int(
        await connection.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")) or 0
    )


async def _read_counters(connection: AsyncConnection, stats: DatabaseStats) -> None:
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


async def _read_tables(connection: AsyncConnection, stats: DatabaseStats) -> None:
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


async def _read_replication(connection: AsyncConnection, stats: DatabaseStats) -> None:
    in_recovery = bool(await connection.scalar(text("SELECT pg_is_in_recovery()")))
    if in_recovery:
        lag = await connection.scalar(
            text("SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())")
        )
        stats.replication_lag_seconds = {"self": float(lag or 0.0)}
        return
    rows = await connection.execute(
        text(
            "SELECT coalesce(nullif(application_name, ''), 'replica_' || pid), "
            "coalesce(extract(epoch FROM replay_lag), 0) FROM pg_stat_replication"
        )
    )
    stats.replication_lag_seconds = {str(name): float(lag) for name, lag in rows}


async def _read_submissions(connection: AsyncConnection, stats: DatabaseStats) -> None:
    # max(id) walks the primary key's index: cheap at any table size.
    if await connection.scalar(text("SELECT to_regclass('submissions')")) is None:
        stats.latest_submission_id = 0  # not migrated yet
        return
    value = await connection.scalar(select(func.max(Submission.id)))
    stats.latest_submission_id = int(value or 0)


async def _read_statements(connection: AsyncConnection, stats: DatabaseStats) -> None:
    # Only query ids leave here: statement text may carry literals (essays, names).
    installed = await connection.scalar(
        text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
    )
    if not installed:
        return
    rows = await connection.execute(
        text(
            "SELECT queryid::text, calls, mean_exec_time / 1000.0 FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY mean_exec_time DESC LIMIT :limit"
        ),
        {"limit": SLOWEST_STATEMENTS},
    )
    stats.slowest_statements = [(str(qid), int(calls), float(mean)) for qid, calls, mean in rows]


Reader = Callable[[AsyncConnection, DatabaseStats], Awaitable[None]]
SECTIONS: tuple[tuple[str, Reader], ...] = (
    (ACTIVITY, _read_activity),
    (COUNTERS, _read_counters),
    (TABLES, _read_tables),
    (REPLICATION, _read_replication),
    (SUBMISSIONS, _read_submissions),
)


@dataclass(frozen=True)
class StatsTimeouts:
    """The bounds of one collection: the whole ping, and each statistics query."""

    answer: float = 10.0
    query: float = STATS_QUERY_TIMEOUT
    lock: float = STATS_LOCK_TIMEOUT


async def _bounded(
    connection: AsyncConnection, read: Reader, stats: DatabaseStats, timeouts: StatsTimeouts
) -> None:
    # SET LOCAL (not SET): transaction-scoped, so safe behind PgBouncer transaction pooling.
    async with connection.begin():
        await connection.execute(
            text(f"SET LOCAL statement_timeout = {int(timeouts.query * 1000)}")
        )
        await connection.execute(text(f"SET LOCAL lock_timeout = {int(timeouts.lock * 1000)}"))
        await read(connection, stats)


def cause_of(error: BaseException, stats: DatabaseStats) -> str:
    """Return why the database did not answer, in a few words ("connection refused")."""
    return short_cause(error, stats.target or "database")


def _why(error: BaseException, timeouts: StatsTimeouts) -> str:
    kind = error_kind(error)
    if kind == "lock_timeout":
        return f"waited over {timeouts.lock:g} s for a lock"
    if kind == "statement_timeout":
        return f"took over {timeouts.query:g} s"
    if isinstance(error, TimeoutError):
        return f"no answer within {timeouts.query + STATS_CLIENT_MARGIN:g} s"
    return kind if kind != "other" else type(error).__name__


async def _ping(connection: AsyncConnection, stats: DatabaseStats) -> None:
    async with connection.begin():
        stats.server_version = str(await connection.scalar(text("SHOW server_version")))
        stats.max_connections = int(await connection.scalar(text("SHOW max_connections")) or 0)


async def _collect_postgres(
    engine: AsyncEngine, stats: DatabaseStats, timeouts: StatsTimeouts
) -> None:
    connection: AsyncConnection | None = None
    try:
        async with asyncio.timeout(timeouts.answer):
            connection = await engine.connect()
            await _ping(connection, stats)
    except Exception as error:
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
        stats.error = "timed out" if isinstance(error, TimeoutError) else cause_of(error, stats)
        return
    stats.up = True
    try:
        await _read_sections(connection, stats, timeouts)
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


async def _read_sections(
    connection: AsyncConnection, stats: DatabaseStats, timeouts: StatsTimeouts
) -> None:
    for index, (section, read) in enumerate(SECTIONS):
        try:
            async with asyncio.timeout(timeouts.query + STATS_CLIENT_MARGIN):
                await _bounded(connection, read, stats, timeouts)
        except Exception as error:
            stats.stale[section] = _why(error, timeouts)
            if isinstance(error, TimeoutError) or is_disconnect(error):
                # The connection is unusable: what was not read is stale too.
                for later, _ in SECTIONS[index + 1 :]:
                    stats.stale[later] = "not read (connection lost)"
                await connection.invalidate()
                return
    try:
        async with asyncio.timeout(timeouts.query + STATS_CLIENT_MARGIN):
            await _bounded(connection, _read_statements, stats, timeouts)
    except Exception as error:  # optional extension: never makes the snapshot stale
        log.debug("pg_stat_statements unreadable: %s", type(error).__name__)


async def collect_database_stats(
    engine: AsyncEngine, budget_seconds: float = 10.0, timeouts: StatsTimeouts | None = None
) -> DatabaseStats:
    """Return one snapshot; a failure gives ``up=False`` or stale sections, never raises."""
    bounds = timeouts or StatsTimeouts(answer=budget_seconds)
    stats = DatabaseStats(
        engine=engine.dialect.name,
        collected_at=time.time(),
        up=False,
        target=describe_target(engine),
    )
    if engine.dialect.name == "sqlite":
        try:
            async with asyncio.timeout(bounds.answer):
                await asyncio.to_thread(_sqlite_snapshot, Path(engine.url.database or ""), stats)
        except Exception as error:
            stats.up = False
            stats.error = "timed out" if isinstance(error, TimeoutError) else cause_of(error, stats)
    else:
        await _collect_postgres(engine, stats, bounds)
    if stats.error:
        log.debug("database did not answer: %s", stats.error)
    elif stats.stale:
        log.debug("database statistics stale: %s", stats.stale)
    return stats


class StatsExporter(Collector):
    """Export the latest ``DatabaseStats`` snapshot as Prometheus metrics (stale parts left out)."""

    def __init__(self) -> None:
        self._latest: DatabaseStats | None = None
        self.last_complete_at: float | None = None

    @property
    def latest(self) -> DatabaseStats | None:
        """Return the newest snapshot."""
        return self._latest

    @latest.setter
    def latest(self, stats: DatabaseStats | None) -> None:
        self._latest = stats
        if stats is not None and stats.complete:
            self.last_complete_at = stats.collected_at

    def collect(self) -> Iterator[Metric]:
        stats = self._latest
        if stats is None:
            return
        yield GaugeMetricFamily(
            "bandwise_db_up",
            "1 when the database answered the last collection (connect and server version).",
            value=1.0 if stats.up else 0.0,
        )
        if self.last_complete_at is not None:
            yield GaugeMetricFamily(
                "bandwise_db_stats_timestamp_seconds",
                "Unix time of the last collection that read every statistic.",
                value=self.last_complete_at,
            )
        if not stats.up:
            return
        yield GaugeMetricFamily(
            "bandwise_db_stats_stale",
            "Statistics sections the last collection could not read (a lock, a slow query).",
            value=len(stats.stale),
        )
        if stats.engine != "postgresql" or stats.has(COUNTERS):
            yield GaugeMetricFamily(
                "bandwise_db_size_bytes",
                "Database size (SQLite: file + WAL).",
                value=stats.size_bytes,
            )
        if stats.engine != "postgresql":
            return
        yield from _postgres_families(stats)


def _postgres_families(stats: DatabaseStats) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "bandwise_pg_max_connections", "Server max_connections.", value=stats.max_connections or 0
    )
    if stats.has(ACTIVITY):
        yield from _activity_families(stats)
    if stats.has(COUNTERS):
        yield from _counter_families(stats)
    if stats.has(TABLES):
        yield from _table_families(stats)
    if stats.has(REPLICATION):
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


def _activity_families(stats: DatabaseStats) -> Iterator[Metric]:
    connections = GaugeMetricFamily(
        "bandwise_pg_connections", "Client connections by state.", labels=["state"]
    )
    for state, count in sorted(stats.connections.items()):
        connections.add_metric([state.replace(" ", "_")], count)
    yield connections
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


def _counter_families(stats: DatabaseStats) -> Iterator[Metric]:
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
