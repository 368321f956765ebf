"""The scheduler runs the job at the cron time of an injected clock, and survives failures."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.errors import InvalidInput, OperationFailed
from bandwise.ops.backup import backup_status, list_backups, next_run, run_schedule


class FakeClock:
    """A clock that only moves when the scheduler sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_next_run_and_invalid_expression() -> None:
    assert next_run("0 3 * * *", datetime(2026, 11, 24, 3, 0, tzinfo=UTC)) == datetime(
        2026, 11, 25, 3, tzinfo=UTC
    )
    with pytest.raises(InvalidInput, match="BACKUP_SCHEDULE"):
        next_run("every night", datetime(2026, 11, 24, tzinfo=UTC))


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_job_runs_at_the_scheduled_time(
    settings: Settings, seeded: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(datetime(2026, 11, 24, 2, 58, 30, tzinfo=UTC))
    calls: list[tuple[datetime, datetime]] = []

    async def job(due: datetime) -> str:
        calls.append((due, clock()))
        if len(calls) == 1:
            raise OperationFailed("disk full: simulated")
        return "ok"

    caplog.set_level(logging.INFO, logger="bandwise.ops.backup.schedule")
    runs = await run_schedule(settings, seeded, clock=clock, sleep=clock.sleep, job=job, max_runs=2)

    assert [due for due, _ in calls] == [
        datetime(2026, 11, 24, 3, tzinfo=UTC),
        datetime(2026, 11, 25, 3, tzinfo=UTC),
    ]
    assert all(now >= due for due, now in calls)
    assert [run.succeeded for run in runs] == [False, True]
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1 and "disk full: simulated" in errors[0].getMessage()
    status = json.loads((settings.backup_dir / "schedule" / "last-run.json").read_text())
    assert status["succeeded"] is True and status["due_at"] == "2026-11-25T03:00:00+00:00"


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_default_cycle_creates_verifies_and_prunes(
    settings: Settings, seeded: AsyncEngine
) -> None:
    clock = FakeClock(datetime(2026, 11, 24, 2, 59, 59, tzinfo=UTC))
    keep_one = settings.model_copy(
        update={"backup_keep_daily": 1, "backup_keep_weekly": 0, "backup_keep_monthly": 0}
    )

    runs = await run_schedule(keep_one, seeded, clock=clock, sleep=clock.sleep, max_runs=2)

    assert [run.succeeded for run in runs] == [True, True], runs
    backups = list_backups(keep_one)
    assert [item.id for item in backups] == ["20261125T030000Z"]
    assert backups[0].verify_outcome == "passed" and backups[0].label == "scheduled"
    status = backup_status(keep_one)
    assert status.count == 1 and status.last_success_at == datetime(2026, 11, 25, 3, tzinfo=UTC)
    assert status.last_run_succeeded is True and status.latest_verified == backups[0]
