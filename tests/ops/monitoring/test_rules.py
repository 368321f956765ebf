"""The in-process rules and the alerter's firing / resolved / cool-down behaviour (no I/O)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bandwise.ops.monitoring.pg_stats import DatabaseStats, SessionInfo, TableStats
from bandwise.ops.monitoring.rules import DEFAULT_RULES, Observation, duration_words
from testkit.monitoring import NOW, backup, pg

SESSION = SessionInfo(4242, "psql", "idle in transaction", NOW - 301, NOW - 300)


def firing(observation: Observation) -> set[str]:
    return {
        rule.name
        for rule in DEFAULT_RULES
        if (check := rule.condition(observation)) is not None and check.holds
    }


def earlier(**values: object) -> list[DatabaseStats]:
    """One snapshot a minute before NOW (the window the counter rules look back over)."""
    return [replace(pg(**values), collected_at=NOW - 60)]


def test_healthy_database_fires_nothing() -> None:
    assert firing(Observation(pg(), history=earlier(), backups=[backup(1)], now=NOW)) == set()


@pytest.mark.parametrize(
    ("observation", "expected"),
    [
        (
            Observation(
                replace(pg(), up=False, error="ConnectionRefusedError"), backups=[backup(1)]
            ),
            "BandwiseDatabaseDown",
        ),
        (
            Observation(pg(stale={"tables": "waited over 1 s for a lock"}), backups=[backup(1)]),
            "BandwiseStatisticsStale",
        ),
        (Observation(pg(), backups=[]), "BandwiseBackupMissing"),
        (
            Observation(pg(connections={"active": 50, "idle": 31}), backups=[backup(1)]),
            "BandwiseConnectionsHigh",
        ),
        (Observation(pg(), pool_waiters=3, backups=[backup(1)]), "BandwisePoolSaturated"),
        (
            Observation(pg(deadlocks=2), earlier(deadlocks=1), backups=[backup(1)], now=NOW),
            "BandwiseDeadlocks",
        ),
        (
            Observation(pg(commits=1080, rollbacks=20), earlier(), backups=[backup(1)], now=NOW),
            "BandwiseRollbackRatioHigh",
        ),
        (
            Observation(
                pg(longest_transaction_seconds=301, oldest_session=SESSION), backups=[backup(1)]
            ),
            "BandwiseLongTransaction",
        ),
        (
            Observation(pg(blocks_hit=90_000, blocks_read=10_000), backups=[backup(1)]),
            "BandwiseCacheHitLow",
        ),
        (
            Observation(
                pg(tables=[TableStats("submissions", 1000, 20_000, None, 1)]), backups=[backup(1)]
            ),
            "BandwiseDeadTuplesHigh",
        ),
        (Observation(pg(), backups=[backup(27)], now=NOW), "BandwiseBackupStale"),
        (Observation(pg(), backups=[backup(1, "failed")], now=NOW), "BandwiseBackupVerifyFailed"),
    ],
)
def test_each_rule_fires_on_its_condition(observation: Observation, expected: str) -> None:
    assert firing(observation) == {expected}


def test_small_samples_do_not_fire_ratio_rules() -> None:
    few = Observation(pg(commits=1005, rollbacks=5), earlier(), backups=[backup(1)], now=NOW)
    cold = Observation(pg(blocks_hit=50, blocks_read=50), backups=[backup(1)])
    assert firing(few) == set() and firing(cold) == set()


def test_a_deadlock_keeps_its_alert_for_the_five_minute_window() -> None:
    """The built-in twin of `increase(bandwise_pg_deadlocks_total[5m]) > 0`."""
    snapshots = [replace(pg(deadlocks=0), collected_at=NOW)]
    snapshots += [replace(pg(deadlocks=1), collected_at=NOW + 30 * step) for step in range(1, 16)]
    holding = []
    for index in range(1, len(snapshots)):
        observation = Observation(
            snapshots[index],
            snapshots[:index],
            backups=[backup(1)],
            now=snapshots[index].collected_at,
        )
        history = [s for s in snapshots[:index] if s.collected_at >= observation.now - 300]
        observation.history = history
        holding.append("BandwiseDeadlocks" in firing(observation))
    # The deadlock happened between 0 s and 30 s: the alert holds while that is inside the window.
    seconds = [30 * step for step, held in enumerate(holding, start=1) if held]
    assert seconds == [30, 60, 90, 120, 150, 180, 210, 240, 270, 300]


def test_duration_words() -> None:
    assert duration_words(60) == "1 minute"
    assert duration_words(300) == "5 minutes"
    assert duration_words(26 * 3600) == "26 hours"
    assert duration_words(90) == "90 seconds"
