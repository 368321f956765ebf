"""Alert conditions evaluated in-process; they mirror ``deploy/prometheus/alerts.yml``.

Each rule reads an ``Observation`` (this and the previous statistics snapshot, the pool, the
backups) and says whether its condition holds, with a short detail for the message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bandwise.ops.monitoring.backups import BackupRecord, last_verified
from bandwise.ops.monitoring.pg_stats import DatabaseStats

CONNECTIONS_RATIO = 0.8
ROLLBACK_RATIO = 0.10
ROLLBACK_MIN_TRANSACTIONS = 20
LONG_TRANSACTION_SECONDS = 300.0
CACHE_HIT_MIN = 0.95
CACHE_MIN_BLOCKS = 10_000
DEAD_TUPLES_MIN = 10_000
DEAD_TUPLES_RATIO = 0.2
BACKUP_MAX_AGE_SECONDS = 26 * 3600.0


@dataclass
class Observation:
    """What the rules look at: the newest snapshot, the previous one, pool and backups."""

    stats: DatabaseStats
    previous: DatabaseStats | None = None
    pool_waiters: int = 0
    backups: list[BackupRecord] = field(default_factory=list)
    now: float = field(default_factory=time.time)


Condition = Callable[[Observation], str | None]


@dataclass(frozen=True)
class AlertRule:
    """One alert: a name shared with the Prometheus rule, a condition and a hold time."""

    name: str
    severity: str
    summary: str
    condition: Condition
    for_seconds: float = 0.0


def _postgres(observation: Observation) -> DatabaseStats | None:
    stats = observation.stats
    return stats if stats.up and stats.engine == "postgresql" else None


def database_down(observation: Observation) -> str | None:
    """Fire when the database did not answer the last collection."""
    stats = observation.stats
    return None if stats.up else f"database unreachable: {stats.error or 'no answer'}"


def connections_high(observation: Observation) -> str | None:
    """Fire when client connections exceed 80 % of max_connections."""
    stats = _postgres(observation)
    if stats is None or not stats.max_connections:
        return None
    ratio = stats.total_connections / stats.max_connections
    if ratio <= CONNECTIONS_RATIO:
        return None
    return f"{stats.total_connections} of {stats.max_connections} connections in use ({ratio:.0%})"


def pool_saturated(observation: Observation) -> str | None:
    """Fire while callers wait for a pooled connection."""
    waiters = observation.pool_waiters
    return f"{waiters} callers waiting for a pooled connection" if waiters > 0 else None


def _delta(observation: Observation, attribute: str) -> int:
    previous = observation.previous
    if previous is None or not previous.up:
        return 0
    # A statistics reset makes the counter go down: count from zero then.
    now_value = int(getattr(observation.stats, attribute))
    before = int(getattr(previous, attribute))
    return now_value - before if now_value >= before else now_value


def deadlocks(observation: Observation) -> str | None:
    """Fire when deadlocks were detected since the previous collection."""
    if _postgres(observation) is None:
        return None
    count = _delta(observation, "deadlocks")
    return f"{count} deadlocks since the previous collection" if count > 0 else None


def rollback_ratio(observation: Observation) -> str | None:
    """Fire when more than 10 % of recent transactions rolled back."""
    if _postgres(observation) is None:
        return None
    commits, rollbacks = _delta(observation, "commits"), _delta(observation, "rollbacks")
    total = commits + rollbacks
    if total < ROLLBACK_MIN_TRANSACTIONS or rollbacks / total <= ROLLBACK_RATIO:
        return None
    return f"{rollbacks} of {total} recent transactions rolled back ({rollbacks / total:.0%})"


def long_transaction(observation: Observation) -> str | None:
    """Fire when a transaction has been open for more than 5 minutes."""
    stats = _postgres(observation)
    if stats is None or stats.longest_transaction_seconds <= LONG_TRANSACTION_SECONDS:
        return None
    return f"a transaction has been open for {stats.longest_transaction_seconds:.0f} s"


def cache_hit_low(observation: Observation) -> str | None:
    """Fire when fewer than 95 % of block reads come from shared buffers."""
    stats = _postgres(observation)
    ratio = stats.cache_hit_ratio if stats else None
    if stats is None or ratio is None or stats.blocks_hit + stats.blocks_read < CACHE_MIN_BLOCKS:
        return None
    return f"cache hit ratio {ratio:.3f}" if ratio < CACHE_HIT_MIN else None


def dead_tuples(observation: Observation) -> str | None:
    """Fire when a table carries many dead tuples (autovacuum is not keeping up)."""
    stats = _postgres(observation)
    if stats is None:
        return None
    bloated = [
        table
        for table in stats.tables
        if table.dead_tuples > DEAD_TUPLES_MIN
        and table.dead_tuples > DEAD_TUPLES_RATIO * table.live_tuples
    ]
    if not bloated:
        return None
    return "dead tuples: " + ", ".join(f"{t.name} {t.dead_tuples}" for t in bloated[:5])


def backup_stale(observation: Observation) -> str | None:
    """Fire when the newest backup is older than 26 hours."""
    if not observation.backups:
        return None
    age = observation.now - observation.backups[0].created_at.timestamp()
    return f"the newest backup is {age / 3600:.1f} h old" if age > BACKUP_MAX_AGE_SECONDS else None


def backup_verify_failed(observation: Observation) -> str | None:
    """Fire when the newest verified backup failed its verification."""
    verified = last_verified(observation.backups)
    if verified is None or verified.verify_outcome != "failed":
        return None
    return f"backup {verified.backup_id} failed verification"


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "BandwiseDatabaseDown", "critical", "The database does not answer.", database_down, 60
    ),
    AlertRule(
        "BandwiseConnectionsHigh",
        "warning",
        "Connections above 80 % of max_connections.",
        connections_high,
        120,
    ),
    AlertRule(
        "BandwisePoolSaturated", "warning", "The connection pool is exhausted.", pool_saturated, 60
    ),
    AlertRule("BandwiseDeadlocks", "warning", "Deadlocks detected.", deadlocks),
    AlertRule(
        "BandwiseRollbackRatioHigh",
        "warning",
        "More than 10 % of transactions roll back.",
        rollback_ratio,
        300,
    ),
    AlertRule(
        "BandwiseLongTransaction",
        "warning",
        "A transaction is older than 5 minutes.",
        long_transaction,
    ),
    AlertRule("BandwiseCacheHitLow", "warning", "Cache hit ratio below 0.95.", cache_hit_low, 600),
    AlertRule(
        "BandwiseDeadTuplesHigh", "warning", "Autovacuum is not keeping up.", dead_tuples, 900
    ),
    AlertRule(
        "BandwiseBackupStale", "critical", "The last backup is older than 26 hours.", backup_stale
    ),
    AlertRule(
        "BandwiseBackupVerifyFailed",
        "critical",
        "The last backup failed verification.",
        backup_verify_failed,
    ),
)


def without_hold(rules: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
    """Return ``rules`` firing at once (one-shot evaluations such as `bandwise db status`)."""
    return tuple(replace(rule, for_seconds=0.0) for rule in rules)
