"""The alert rules: ONE definition for the built-in alerter and ``deploy/prometheus/alerts.yml``.

Each rule carries its Python condition and its PromQL expression, both written from the same
thresholds and windows below, and one hold time (``for``). ``prometheus_rules.py`` renders the
Prometheus file from these rules; a test regenerates it and compares.

A condition reads an ``Observation`` (this snapshot, the recent ones, the pool, the backups) and
returns a ``Check``: whether the condition holds, and the current value in words (so a
"resolved" message says what is true now). It returns None when it cannot tell (the database
is down, or that part of the statistics is stale): the alert then keeps its state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bandwise.ops.monitoring.backups import BackupRecord, last_verified
from bandwise.ops.monitoring.notify import iso_utc
from bandwise.ops.monitoring.pg_stats import (
    ACTIVITY,
    COUNTERS,
    TABLES,
    DatabaseStats,
)
from bandwise.wording import plural

CONNECTIONS_RATIO = 0.8
ROLLBACK_RATIO = 0.10
ROLLBACK_MIN_TRANSACTIONS = 20
COUNTER_WINDOW_SECONDS = 300.0  # deadlocks and rollbacks are counted over the last 5 minutes
LONG_TRANSACTION_SECONDS = 300.0
CACHE_HIT_MIN = 0.95
CACHE_MIN_BLOCKS = 10_000
DEAD_TUPLES_MIN = 10_000
DEAD_TUPLES_RATIO = 0.2
BACKUP_MAX_AGE_SECONDS = 26 * 3600.0
DOWN_HOLD_SECONDS = 60.0
STALE_HOLD_SECONDS = 300.0
POOL_HOLD_SECONDS = 60.0
BACKUP_MISSING_HOLD_SECONDS = 3600.0

DATABASE_GROUP = "bandwise-database"
BACKUP_GROUP = "bandwise-backups"


@dataclass
class Observation:
    """What the rules look at: the newest snapshot, the recent ones, pool and backups."""

    stats: DatabaseStats
    history: list[DatabaseStats] = field(default_factory=list)  # older snapshots, oldest first
    pool_waiters: int = 0
    backups: list[BackupRecord] = field(default_factory=list)
    now: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Check:
    """A condition's verdict and the current value in words."""

    holds: bool
    detail: str


Condition = Callable[[Observation], Check | None]


@dataclass(frozen=True)
class AlertRule:
    """One alert: its Python condition, its PromQL twin, one hold time and one text."""

    name: str
    severity: str
    summary: str
    condition: Condition
    for_seconds: float = 0.0
    expr: str = ""  # PromQL over the exported metrics
    description: str = ""  # Prometheus annotation (a template over $labels and $value)
    group: str = DATABASE_GROUP


def _section(observation: Observation, section: str) -> DatabaseStats | None:
    stats = observation.stats
    return stats if stats.engine == "postgresql" and stats.has(section) else None


def database_down(observation: Observation) -> Check:
    """Hold when the database does not answer."""
    stats = observation.stats
    if stats.up:
        return Check(False, f"database {stats.target} answers")
    return Check(True, f"database {stats.target} does not answer: {stats.error or 'no answer'}")


def statistics_stale(observation: Observation) -> Check | None:
    """Hold while the database answers but some statistics cannot be read (a lock, a slow query)."""
    stats = observation.stats
    if not stats.up:
        return None
    if not stats.stale:
        return Check(False, "every statistic was collected")
    parts = ", ".join(f"{section} ({reason})" for section, reason in sorted(stats.stale.items()))
    return Check(True, f"database {stats.target} answers but statistics are stale: {parts}")


def connections_high(observation: Observation) -> Check | None:
    """Hold when client connections exceed 80 % of max_connections."""
    stats = _section(observation, ACTIVITY)
    if stats is None or not stats.max_connections:
        return None
    ratio = stats.total_connections / stats.max_connections
    return Check(
        ratio > CONNECTIONS_RATIO,
        f"{stats.total_connections} of {stats.max_connections} connections in use ({ratio:.0%})",
    )


def pool_saturated(observation: Observation) -> Check:
    """Hold while callers wait for a pooled connection."""
    waiters = observation.pool_waiters
    return Check(waiters > 0, f"{waiters} callers waiting for a pooled connection")


def _increase(observation: Observation, attribute: str) -> int | None:
    """Return how much a server counter grew over the window (None without a baseline)."""
    since = observation.now - COUNTER_WINDOW_SECONDS
    series = [
        snapshot
        for snapshot in observation.history
        if snapshot.collected_at >= since and snapshot.has(COUNTERS)
    ]
    if not series:
        return None
    total, before = 0, int(getattr(series[0], attribute))
    for snapshot in [*series[1:], observation.stats]:
        value = int(getattr(snapshot, attribute))
        # A statistics reset makes the counter go down: count from zero then.
        total += value - before if value >= before else value
        before = value
    return total


def deadlocks(observation: Observation) -> Check | None:
    """Hold while deadlocks were detected in the last 5 minutes."""
    if _section(observation, COUNTERS) is None:
        return None
    count = _increase(observation, "deadlocks")
    if count is None:
        return None
    return Check(count > 0, f"{count} deadlocks in the last {COUNTER_WINDOW_SECONDS / 60:.0f} min")


def rollback_ratio(observation: Observation) -> Check | None:
    """Hold when more than 10 % of the last 5 minutes' transactions rolled back."""
    if _section(observation, COUNTERS) is None:
        return None
    commits, rollbacks = _increase(observation, "commits"), _increase(observation, "rollbacks")
    if commits is None or rollbacks is None:
        return None
    total = commits + rollbacks
    ratio = rollbacks / total if total else 0.0
    return Check(
        total >= ROLLBACK_MIN_TRANSACTIONS and ratio > ROLLBACK_RATIO,
        f"{rollbacks} of {total} transactions in the last "
        f"{COUNTER_WINDOW_SECONDS / 60:.0f} min rolled back ({ratio:.0%})",
    )


def long_transaction(observation: Observation) -> Check | None:
    """Hold when a transaction has been open for more than 5 minutes; name its session."""
    stats = _section(observation, ACTIVITY)
    if stats is None:
        return None
    age = stats.longest_transaction_seconds
    session = stats.oldest_session
    if session is None:
        return Check(False, "no transaction is open")
    who = (
        f"session pid {session.pid} (application {session.application or '(none)'!r}, "
        f"state {session.state}, transaction started {iso_utc(session.transaction_start)}, "
        f"query started {iso_utc(session.query_start)})"
    )
    return Check(
        age > LONG_TRANSACTION_SECONDS, f"the oldest transaction is {age:.0f} s old: {who}"
    )


def cache_hit_low(observation: Observation) -> Check | None:
    """Hold when fewer than 95 % of block reads come from shared buffers."""
    stats = _section(observation, COUNTERS)
    ratio = stats.cache_hit_ratio if stats else None
    if stats is None or ratio is None:
        return None
    enough = stats.blocks_hit + stats.blocks_read > CACHE_MIN_BLOCKS
    return Check(enough and ratio < CACHE_HIT_MIN, f"cache hit ratio {ratio:.3f}")


def dead_tuples(observation: Observation) -> Check | None:
    """Hold when a table carries many dead tuples (autovacuum is not keeping up)."""
    stats = _section(observation, TABLES)
    if stats is None:
        return None
    bloated = [
        table
        for table in stats.tables
        if table.dead_tuples > DEAD_TUPLES_MIN
        and table.dead_tuples > DEAD_TUPLES_RATIO * table.live_tuples
    ]
    if not bloated:
        most = max(stats.tables, key=lambda t: t.dead_tuples, default=None)
        worst = f" (most: {most.name} {most.dead_tuples})" if most else ""
        return Check(False, f"no table above the dead-tuple threshold{worst}")
    return Check(
        True, "dead tuples: " + ", ".join(f"{t.name} {t.dead_tuples}" for t in bloated[:5])
    )


def backup_missing(observation: Observation) -> Check:
    """Hold while no backup has ever been made (no readable manifest in BACKUP_DIR)."""
    count = len(observation.backups)
    if count == 0:
        return Check(True, "no backup has been made yet")
    newest = iso_utc(_created(observation))
    return Check(False, f"{plural(count, 'backup')}, the newest from {newest}")


def _created(observation: Observation) -> float:
    return observation.backups[0].created_at.timestamp()


def backup_stale(observation: Observation) -> Check | None:
    """Hold when the newest backup is older than 26 hours."""
    if not observation.backups:
        return None  # BandwiseBackupMissing says so
    age = observation.now - _created(observation)
    return Check(
        age > BACKUP_MAX_AGE_SECONDS,
        f"the newest backup is {age / 3600:.1f} h old ({iso_utc(_created(observation))})",
    )


def backup_verify_failed(observation: Observation) -> Check | None:
    """Hold when the newest verified backup failed its verification."""
    verified = last_verified(observation.backups)
    if verified is None:
        return None
    return Check(
        verified.verify_outcome == "failed",
        f"backup {verified.backup_id} verification {verified.verify_outcome}",
    )


def duration_words(seconds: float) -> str:
    """Return ``seconds`` in words: ``1 minute``, ``5 minutes``, ``26 hours``."""
    for size, unit in ((3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g} %"


_COUNTER_WINDOW = f"{COUNTER_WINDOW_SECONDS / 60:.0f}m"
_TRANSACTIONS = (
    f"(increase(bandwise_pg_xact_commit_total[{_COUNTER_WINDOW}]) "
    f"+ increase(bandwise_pg_xact_rollback_total[{_COUNTER_WINDOW}]))"
)

DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "BandwiseDatabaseDown",
        "critical",
        "The database does not answer.",
        database_down,
        DOWN_HOLD_SECONDS,
        expr="bandwise_db_up == 0",
        description="{{ $labels.instance }}: the database has not answered for "
        f"{duration_words(DOWN_HOLD_SECONDS)}.",
    ),
    AlertRule(
        "BandwiseStatisticsStale",
        "warning",
        "The database answers but its statistics are stale.",
        statistics_stale,
        STALE_HOLD_SECONDS,
        expr="bandwise_db_stats_stale > 0 and bandwise_db_up == 1",
        description="{{ $value }} statistics sections unreadable for "
        f"{duration_words(STALE_HOLD_SECONDS)} (a lock or a slow query); the database answers.",
    ),
    AlertRule(
        "BandwiseConnectionsHigh",
        "warning",
        f"Connections above {_percent(CONNECTIONS_RATIO)} of max_connections.",
        connections_high,
        120,
        expr="sum by (instance, job) (bandwise_pg_connections) / on (instance, job) "
        f"bandwise_pg_max_connections > {CONNECTIONS_RATIO:g}",
        description="{{ $value | humanizePercentage }} of max_connections in use.",
    ),
    AlertRule(
        "BandwisePoolSaturated",
        "warning",
        "The connection pool is exhausted.",
        pool_saturated,
        POOL_HOLD_SECONDS,
        expr="bandwise_db_pool_waiters > 0",
        description="Callers have waited for a pooled connection for over "
        f"{duration_words(POOL_HOLD_SECONDS)}.",
    ),
    AlertRule(
        "BandwiseDeadlocks",
        "warning",
        "Deadlocks detected.",
        deadlocks,
        expr=f"increase(bandwise_pg_deadlocks_total[{_COUNTER_WINDOW}]) > 0",
        description="{{ $value }} deadlocks in the last "
        f"{duration_words(COUNTER_WINDOW_SECONDS)}.",
    ),
    AlertRule(
        "BandwiseRollbackRatioHigh",
        "warning",
        f"More than {_percent(ROLLBACK_RATIO)} of transactions roll back.",
        rollback_ratio,
        300,
        expr=f"increase(bandwise_pg_xact_rollback_total[{_COUNTER_WINDOW}]) / {_TRANSACTIONS} "
        f"> {ROLLBACK_RATIO:g} and {_TRANSACTIONS} >= {ROLLBACK_MIN_TRANSACTIONS}",
        description="Rollback ratio {{ $value | humanizePercentage }}.",
    ),
    AlertRule(
        "BandwiseLongTransaction",
        "warning",
        f"A transaction is older than {duration_words(LONG_TRANSACTION_SECONDS)}.",
        long_transaction,
        expr=f"bandwise_pg_longest_transaction_seconds > {LONG_TRANSACTION_SECONDS:g}",
        description="The oldest open transaction is {{ $value | humanizeDuration }} old.",
    ),
    AlertRule(
        "BandwiseCacheHitLow",
        "warning",
        f"Cache hit ratio below {CACHE_HIT_MIN:g}.",
        cache_hit_low,
        600,
        expr=f"bandwise_pg_cache_hit_ratio < {CACHE_HIT_MIN:g} and "
        f"(bandwise_pg_blks_hit_total + bandwise_pg_blks_read_total) > {CACHE_MIN_BLOCKS}",
        description="Cache hit ratio {{ $value }}.",
    ),
    AlertRule(
        "BandwiseDeadTuplesHigh",
        "warning",
        "Autovacuum is not keeping up.",
        dead_tuples,
        900,
        expr=f"bandwise_pg_table_dead_tuples > {DEAD_TUPLES_MIN} and bandwise_pg_table_dead_tuples "
        f"> {DEAD_TUPLES_RATIO:g} * bandwise_pg_table_live_tuples",
        description="Table {{ $labels.table }} has {{ $value }} dead tuples.",
    ),
    AlertRule(
        "BandwiseBackupMissing",
        "critical",
        "No backup has ever been made.",
        backup_missing,
        BACKUP_MISSING_HOLD_SECONDS,
        expr="bandwise_backups == 0",
        description="BACKUP_DIR has held no backup for "
        f"{duration_words(BACKUP_MISSING_HOLD_SECONDS)}: run `bandwise backup create` and "
        "check the backup schedule.",
        group=BACKUP_GROUP,
    ),
    AlertRule(
        "BandwiseBackupStale",
        "critical",
        f"The last backup is older than {duration_words(BACKUP_MAX_AGE_SECONDS)}.",
        backup_stale,
        expr="time() - bandwise_backup_last_success_timestamp_seconds > "
        f"{BACKUP_MAX_AGE_SECONDS / 3600:.0f} * 3600",
        description="The newest backup is {{ $value | humanizeDuration }} old.",
        group=BACKUP_GROUP,
    ),
    AlertRule(
        "BandwiseBackupVerifyFailed",
        "critical",
        "The last backup failed verification.",
        backup_verify_failed,
        expr="bandwise_backup_last_verify_success == 0",
        description="Restore-test the backups before relying on them.",
        group=BACKUP_GROUP,
    ),
)


def without_hold(rules: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
    """Return ``rules`` firing at once (one-shot evaluations such as `bandwise db status`)."""
    return tuple(replace(rule, for_seconds=0.0) for rule in rules)
