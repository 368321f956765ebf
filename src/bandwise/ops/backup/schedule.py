"""Run the backup cycle (create, verify, prune) on a cron schedule, with an injectable clock."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter
from sqlalchemy.ext.asyncio import AsyncEngine

from bandwise.config import Settings
from bandwise.errors import BandwiseError, InvalidInput
from bandwise.ops.backup.dump import create_backup
from bandwise.ops.backup.files import write_text_atomically
from bandwise.ops.backup.manifest import utcnow
from bandwise.ops.backup.retention import prune
from bandwise.ops.backup.status import LAST_RUN_FILE
from bandwise.ops.backup.verify import verify_backup

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleeper = Callable[[float], Awaitable[None]]
Job = Callable[[datetime], Awaitable[str]]


@dataclass(frozen=True)
class ScheduledRun:
    """One run of the scheduled job: when it was due, and how it ended."""

    due_at: datetime
    succeeded: bool
    detail: str


def record_run(settings: Settings, run: ScheduledRun, finished_at: datetime) -> None:
    """Write the last run's outcome to ``BACKUP_DIR/schedule/last-run.json`` (for monitoring).

    A failed create leaves no manifest behind; this file is where that failure is visible.
    """
    path = settings.backup_dir / LAST_RUN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "due_at": run.due_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "succeeded": run.succeeded,
        "detail": run.detail,
    }
    write_text_atomically(path, json.dumps(document, indent=2) + "\n")


def next_run(expression: str, after: datetime) -> datetime:
    """Return the first time after ``after`` (UTC) that the cron ``expression`` selects."""
    if not croniter.is_valid(expression):
        raise InvalidInput(
            f"BACKUP_SCHEDULE {expression!r} is not a cron expression "
            "(five fields, e.g. '0 3 * * *')",
            field="BACKUP_SCHEDULE",
        )
    moment = croniter(expression, after.astimezone(UTC)).get_next(datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def backup_cycle(settings: Settings, engine: AsyncEngine, now: datetime) -> str:
    """Create a backup, verify it and apply retention; return a one-line summary."""
    manifest = await create_backup(settings, engine, label="scheduled", now=now)
    manifest = await verify_backup(settings, engine, manifest.id)
    plan = await asyncio.to_thread(prune, settings)
    summary = (
        f"backup {manifest.id}: {manifest.size_bytes} bytes in {manifest.duration_seconds:.1f}s, "
        f"verify {manifest.verify_outcome}, {len(plan.delete)} pruned"
    )
    if manifest.verify_outcome != "passed":
        raise BandwiseError(f"{summary}: {manifest.verify_detail}")
    return summary


async def run_schedule(
    settings: Settings,
    engine: AsyncEngine,
    *,
    clock: Clock = utcnow,
    sleep: Sleeper = asyncio.sleep,
    job: Job | None = None,
    max_runs: int | None = None,
) -> list[ScheduledRun]:
    """Run ``job`` (default: the backup cycle) at each BACKUP_SCHEDULE time.

    Runs for ever, or ``max_runs`` times.

    Each outcome is logged; failures are logged at ERROR and the schedule carries on.
    """

    async def default_job(now: datetime) -> str:
        return await backup_cycle(settings, engine, now)

    work = job or default_job
    runs: list[ScheduledRun] = []
    due = next_run(settings.backup_schedule, clock())
    log.info("backup schedule %r: next run at %s", settings.backup_schedule, due.isoformat())
    while max_runs is None or len(runs) < max_runs:
        while (remaining := (due - clock()).total_seconds()) > 0:
            await sleep(min(remaining, 60.0))
        try:
            detail = await work(due)
        except BandwiseError as error:
            runs.append(ScheduledRun(due, False, error.message))
            log.error("scheduled backup due %s failed: %s", due.isoformat(), error.message)
        except Exception as error:
            runs.append(ScheduledRun(due, False, repr(error)))
            log.exception("scheduled backup due %s failed unexpectedly", due.isoformat())
        else:
            runs.append(ScheduledRun(due, True, detail))
            log.info("scheduled backup due %s succeeded: %s", due.isoformat(), detail)
        try:
            record_run(settings, runs[-1], clock())
        except (OSError, BandwiseError) as error:
            log.error("cannot record the scheduled run's outcome: %s", error)
        due = next_run(settings.backup_schedule, max(clock(), due))
    return runs
