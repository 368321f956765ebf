"""No check lost: requests killed mid-scoring get their checks back while the service runs."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bandwise.assessment.offline import OfflineAssessor
from bandwise.assessment.types import AssessmentResult
from bandwise.config import load_settings
from bandwise.errors import DatabaseError
from bandwise.models import ProcessingStatus, RateLimit, Submission, TaskType, utcnow
from bandwise.repositories import submissions as submission_rows
from bandwise.repositories import users
from bandwise.runtime import Runtime, abandoned_after, open_runtime
from bandwise.services.limits import consume_check
from bandwise.services.submissions import EssayRequest, submit_essay
from testkit.essays import TASK2_ESSAY
from testkit.tcp_proxy import TcpProxy, running_proxy

CANDIDATES = range(6_000_000_001, 6_000_000_011)


class HangingAssessor:
    """An LLM that never answers: the request is killed while it waits."""

    name = "hanging"

    def __init__(self) -> None:
        self.waiting = 0
        self.called = asyncio.Event()

    async def assess(self, text: str, task_type: TaskType, *, prompt: str | None = None) -> object:
        self.waiting += 1
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def _pending(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        statement = select(func.count()).where(
            Submission.processing_status == ProcessingStatus.PENDING
        )
        return int(await session.scalar(statement) or 0)


async def _scored_earlier(runtime: Runtime, moment: datetime) -> None:
    """Give each candidate one essay scored at ``moment`` (its check consumed for good)."""
    async with runtime.sessions() as session, session.begin():
        for telegram_id in CANDIDATES:
            user = await users.get_or_create(session, telegram_id)
            await consume_check(session, runtime.policy, user, moment)
            scored = await submission_rows.create(
                session, user.id, TASK2_ESSAY, TaskType.TASK_2, 200, moment
            )
            scored.processing_status = ProcessingStatus.COMPLETED


def test_abandoned_means_past_the_scoring_deadline() -> None:
    settings = load_settings(ai_timeout=30, ai_max_retries=2, pending_sweep_margin_seconds=45)
    assert abandoned_after(settings) == timedelta(seconds=30 * 3 + 45)


async def test_killed_requests_get_their_checks_back_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=database_url,
        maintenance_flag_path=tmp_path / "maintenance.flag",
        backup_dir=tmp_path / "backups",
        ai_timeout=1,
        ai_max_retries=0,
        pending_sweep_margin_seconds=0,
        pending_sweep_interval_seconds=0.05,
    )
    async with contextlib.AsyncExitStack() as stack:
        instances = [
            await stack.enter_async_context(open_runtime(settings, migrate_schema=False))
            for _ in range(2)
        ]
        names = [{task.get_name() for task in runtime.background} for runtime in instances]
        assert names == [{"bandwise-pending-sweep"}] * 2  # every instance sweeps
        # Ten minutes ago (past the one-second deadline): each candidate had one essay scored,
        # then sent another whose request died mid-scoring (outage, killed process).
        moment = utcnow() - timedelta(minutes=10)
        await _scored_earlier(instances[0], moment)
        for index, telegram_id in enumerate(CANDIDATES):
            runtime = instances[index % 2]
            assessor = HangingAssessor()
            request = asyncio.create_task(
                submit_essay(
                    runtime.sessions,
                    assessor,  # type: ignore[arg-type]
                    runtime.policy,
                    EssayRequest(telegram_id=telegram_id, text=TASK2_ESSAY),
                    now=moment,
                )
            )
            await assessor.called.wait()  # the check is consumed, the submission pending
            request.cancel()
        # Both instances keep running and sweeping; wait until they gave everything back.
        async with asyncio.timeout(60):
            while await _pending(instances[0]):
                await asyncio.sleep(0.02)
        assert all(not task.done() for runtime in instances for task in runtime.background)
        async with instances[1].sessions() as session:
            counts = list(await session.scalars(select(RateLimit.submission_count)))
            statuses = list(await session.scalars(select(Submission.processing_status)))
        # Each candidate keeps exactly the check of the scored essay: none lost, none twice.
        assert counts == [1] * len(CANDIDATES)
        assert statuses.count(ProcessingStatus.FAILED) == len(CANDIDATES)
        assert statuses.count(ProcessingStatus.COMPLETED) == len(CANDIDATES)


class OutageAssessor:
    """Scores like the offline model, but the database goes away while it does (mid-request)."""

    name = "outage"

    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy

    async def assess(
        self, text: str, task_type: TaskType, *, prompt: str | None = None
    ) -> AssessmentResult:
        self.proxy.reset_all()  # every connection of this instance dies, new ones too
        return OfflineAssessor().assess_sync(text, task_type)


async def test_an_outage_mid_request_costs_no_check_while_the_service_runs(
    engine_name: str, database_url: str, tmp_path: Path
) -> None:
    if engine_name != "postgresql":
        pytest.skip("a SQLite file has no network to lose: the killed-request test covers it")
    url = make_url(database_url)
    with running_proxy(str(url.host), int(url.port or 5432)) as proxy:
        common: dict[str, Any] = {
            "maintenance_flag_path": tmp_path / "maintenance.flag",
            "backup_dir": tmp_path / "backups",
            "ai_timeout": 1,
            "ai_max_retries": 0,
            "pending_sweep_margin_seconds": 0,
            "pending_sweep_interval_seconds": 0.05,
            "db_connect_timeout": 2,
        }
        through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
        async with (
            open_runtime(load_settings(database_url=through_proxy, **common)) as hit,
            open_runtime(load_settings(database_url=database_url, **common)) as other,
        ):
            moment = utcnow() - timedelta(minutes=10)
            await _scored_earlier(other, moment)  # one check each, kept: a double refund shows
            failed = 0
            for telegram_id in CANDIDATES:
                proxy.heal()
                with pytest.raises(DatabaseError):  # the candidate sees a 503
                    await submit_essay(
                        hit.sessions,
                        OutageAssessor(proxy),  # type: ignore[arg-type]
                        hit.policy,
                        EssayRequest(telegram_id=telegram_id, text=TASK2_ESSAY),
                        now=moment,
                        retry_attempts=1,
                    )
                failed += 1
            proxy.heal()  # the outage ends; both instances keep running and sweeping
            async with asyncio.timeout(60):
                while await _pending(other):
                    await asyncio.sleep(0.02)
            async with other.sessions() as session:
                counts = list(await session.scalars(select(RateLimit.submission_count)))
                statuses = list(await session.scalars(select(Submission.processing_status)))
            assert failed == len(CANDIDATES)
            assert counts == [1] * len(CANDIDATES)  # every check back, none twice
            assert statuses.count(ProcessingStatus.FAILED) == len(CANDIDATES)
