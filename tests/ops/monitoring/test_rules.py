"""The in-process rules and the alerter's firing / resolved / cool-down behaviour (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bandwise.config import load_settings
from bandwise.ops.monitoring.alerts import Alerter
from bandwise.ops.monitoring.backups import BackupRecord
from bandwise.ops.monitoring.notify import AlertMessage, Notifier
from bandwise.ops.monitoring.pg_stats import DatabaseStats, TableStats
from bandwise.ops.monitoring.rules import DEFAULT_RULES, Observation

NOW = 1_800_000_000.0


def pg(**values: object) -> DatabaseStats:
    base = DatabaseStats(
        engine="postgresql",
        collected_at=NOW,
        up=True,
        max_connections=100,
        connections={"active": 1, "idle": 4},
        commits=1000,
        rollbacks=0,
        blocks_hit=99_000,
        blocks_read=1_000,
    )
    return replace(base, **values)  # type: ignore[arg-type]


def backup(hours_ago: float, outcome: str | None = "passed") -> BackupRecord:
    created = datetime.fromtimestamp(NOW, UTC) - timedelta(hours=hours_ago)
    return BackupRecord("b1", created, 1000, 2.0, created if outcome else None, outcome)


def firing(observation: Observation) -> set[str]:
    return {rule.name for rule in DEFAULT_RULES if rule.condition(observation) is not None}


def test_healthy_database_fires_nothing() -> None:
    assert firing(Observation(pg(), previous=pg(), backups=[backup(1)], now=NOW)) == set()


@pytest.mark.parametrize(
    ("observation", "expected"),
    [
        (
            Observation(replace(pg(), up=False, error="ConnectionRefusedError")),
            "BandwiseDatabaseDown",
        ),
        (Observation(pg(connections={"active": 50, "idle": 31})), "BandwiseConnectionsHigh"),
        (Observation(pg(), pool_waiters=3), "BandwisePoolSaturated"),
        (Observation(pg(deadlocks=2), previous=pg(deadlocks=1)), "BandwiseDeadlocks"),
        (Observation(pg(commits=1080, rollbacks=20), previous=pg()), "BandwiseRollbackRatioHigh"),
        (Observation(pg(longest_transaction_seconds=301)), "BandwiseLongTransaction"),
        (Observation(pg(blocks_hit=90_000, blocks_read=10_000)), "BandwiseCacheHitLow"),
        (
            Observation(pg(tables=[TableStats("submissions", 1000, 20_000, None, 1)])),
            "BandwiseDeadTuplesHigh",
        ),
        (Observation(pg(), backups=[backup(27)], now=NOW), "BandwiseBackupStale"),
        (Observation(pg(), backups=[backup(1, "failed")], now=NOW), "BandwiseBackupVerifyFailed"),
    ],
)
def test_each_rule_fires_on_its_condition(observation: Observation, expected: str) -> None:
    assert firing(observation) == {expected}


def test_small_samples_do_not_fire_ratio_rules() -> None:
    few = Observation(pg(commits=1005, rollbacks=5), previous=pg())
    cold = Observation(pg(blocks_hit=50, blocks_read=50))
    assert firing(few) == set() and firing(cold) == set()


class _AlwaysLeader:
    is_leader = True

    async def refresh(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class _Recorder(Notifier):
    def __init__(self) -> None:
        super().__init__(load_settings(alert_webhook_url="http://127.0.0.1:9/unused"))
        self.sent: list[AlertMessage] = []

    async def send(self, message: AlertMessage) -> int:
        self.sent.append(message)
        return 1


async def test_alerter_holds_fires_resolves_and_keeps_quiet_within_cooldown() -> None:
    notifier = _Recorder()
    alerter = Alerter(DEFAULT_RULES, notifier, _AlwaysLeader(), cooldown_seconds=600)  # type: ignore[arg-type]
    down = replace(pg(), up=False, error="timed out")

    async def at(seconds: float, stats: DatabaseStats) -> list[str]:
        sent = await alerter.evaluate(Observation(stats, now=NOW + seconds))
        return [f"{m.alert}:{m.status}" for m in sent]

    assert await at(0, down) == []  # pending: DatabaseDown holds for 60 s
    assert await at(30, down) == []
    assert await at(61, down) == ["BandwiseDatabaseDown:firing"]
    assert [a.name for a in alerter.firing()] == ["BandwiseDatabaseDown"]
    assert await at(90, down) == []  # no repeats while it keeps firing
    assert await at(120, pg()) == ["BandwiseDatabaseDown:resolved"]
    assert alerter.firing() == []
    # Flapping: down again within the cool-down → neither firing nor resolved is announced.
    assert await at(200, down) == []
    assert await at(300, down) == []
    assert await at(320, pg()) == []
    # After the cool-down it is announced again.
    assert await at(1000, down) == []
    assert await at(1100, down) == ["BandwiseDatabaseDown:firing"]
    assert [m.status for m in notifier.sent] == ["firing", "resolved", "firing"]
