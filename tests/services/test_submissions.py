"""The scoring flow on both engines: store, limit, refund on failure, history and trend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bandwise.assessment.types import AssessmentResult
from bandwise.errors import AssessmentFailed, DailyLimitReached, InvalidInput
from bandwise.models import Assessment, ProcessingStatus, Submission, TaskType
from bandwise.repositories import rate_limits, users
from bandwise.repositories.assessments import CHART_POINTS
from bandwise.runtime import Runtime
from bandwise.services.history import get_history
from bandwise.services.limits import LimitPolicy
from bandwise.services.submissions import EssayRequest, submit_essay
from testkit.backup import SEEDED_TELEGRAM_ID, seed
from testkit.essays import SHORT_TEXT, TASK1_ESSAY, TASK2_ESSAY

NOW = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)


class BrokenAssessor:
    """An assessor whose provider is down (stands in for the LLM API, the one faked part)."""

    name = "broken"

    async def assess(
        self, text: str, task_type: TaskType, *, prompt: str | None = None
    ) -> AssessmentResult:
        raise AssessmentFailed("provider unavailable")


async def test_submission_is_stored_with_its_assessment(runtime: Runtime) -> None:
    outcome = await submit_essay(
        runtime.sessions,
        runtime.assessor,
        runtime.policy,
        EssayRequest(telegram_id=5_000_000_001, text=TASK2_ESSAY),
        now=NOW,
    )
    assert outcome.saved and outcome.task_type is TaskType.TASK_2
    assert outcome.allowance is not None and outcome.allowance.remaining == 2
    async with runtime.sessions() as session:
        submission = await session.scalar(select(Submission))
        assessment = await session.scalar(select(Assessment))
    assert submission is not None and assessment is not None
    assert submission.processing_status is ProcessingStatus.COMPLETED
    assert submission.submitted_at == NOW and submission.text == TASK2_ESSAY
    assert assessment.submission_id == submission.id
    assert assessment.overall_band_score == outcome.result.overall
    assert assessment.assessor == "offline"
    assert 3 <= len(assessment.improvement_suggestions) <= 5
    assert assessment.task_achievement_justification


async def test_task_type_is_detected_when_absent(runtime: Runtime) -> None:
    outcome = await submit_essay(
        runtime.sessions,
        runtime.assessor,
        runtime.policy,
        EssayRequest(telegram_id=1, text=TASK1_ESSAY),
        now=NOW,
    )
    assert outcome.task_type is TaskType.TASK_1


async def test_daily_limit_refuses_the_fourth_and_says_when_it_resets(runtime: Runtime) -> None:
    request = EssayRequest(telegram_id=2, text=TASK2_ESSAY)
    for _ in range(3):
        await submit_essay(runtime.sessions, runtime.assessor, runtime.policy, request, now=NOW)
    with pytest.raises(DailyLimitReached) as caught:
        await submit_essay(runtime.sessions, runtime.assessor, runtime.policy, request, now=NOW)
    assert caught.value.limit == 3
    assert caught.value.resets_at == datetime(2026, 11, 25, tzinfo=UTC)
    tomorrow = NOW + timedelta(hours=3)
    outcome = await submit_essay(
        runtime.sessions, runtime.assessor, runtime.policy, request, now=tomorrow
    )
    assert outcome.allowance is not None and outcome.allowance.used == 1


async def test_limit_day_follows_limit_timezone(runtime: Runtime) -> None:
    from zoneinfo import ZoneInfo

    tokyo = LimitPolicy(free_per_day=1, pro_per_day=None, timezone=ZoneInfo("Asia/Tokyo"))
    request = EssayRequest(telegram_id=3, text=TASK2_ESSAY)
    # 21:30 UTC is already 06:30 the next day in Tokyo
    await submit_essay(runtime.sessions, runtime.assessor, tokyo, request, now=NOW)
    with pytest.raises(DailyLimitReached) as caught:
        await submit_essay(runtime.sessions, runtime.assessor, tokyo, request, now=NOW)
    assert caught.value.resets_at == datetime(2026, 11, 26, tzinfo=ZoneInfo("Asia/Tokyo"))


async def test_pro_users_are_not_limited(runtime: Runtime) -> None:
    async with runtime.sessions() as session, session.begin():
        user = await users.get_or_create(session, 4)
        await users.set_pro(session, user.id, True)
    for _ in range(5):
        outcome = await submit_essay(
            runtime.sessions,
            runtime.assessor,
            runtime.policy,
            EssayRequest(telegram_id=4, text=TASK2_ESSAY),
            now=NOW,
        )
    assert outcome.allowance is not None and outcome.allowance.remaining is None


async def test_failed_scoring_marks_failed_and_refunds_the_check(runtime: Runtime) -> None:
    with pytest.raises(AssessmentFailed):
        await submit_essay(
            runtime.sessions,
            BrokenAssessor(),
            runtime.policy,
            EssayRequest(telegram_id=5, text=TASK2_ESSAY),
            now=NOW,
        )
    async with runtime.sessions() as session:
        submission = await session.scalar(select(Submission))
        assert submission is not None and submission.processing_status is ProcessingStatus.FAILED
        assert await rate_limits.used(session, submission.user_id, NOW.date()) == 0


@pytest.mark.parametrize(
    ("text", "field"),
    [(SHORT_TEXT, "text"), ("   ", "text"), ("word " * 30_000, "text")],
)
async def test_bad_essays_are_refused_before_anything_is_stored(
    runtime: Runtime, text: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await submit_essay(
            runtime.sessions,
            runtime.assessor,
            runtime.policy,
            EssayRequest(telegram_id=6, text=text),
            now=NOW,
        )
    assert caught.value.field == field
    async with runtime.sessions() as session:
        assert await session.scalar(select(Submission)) is None


async def test_history_lists_newest_first_with_trend(runtime: Runtime) -> None:
    policy = LimitPolicy(free_per_day=10, pro_per_day=None, timezone=runtime.policy.timezone)
    texts = [TASK2_ESSAY, TASK1_ESSAY, TASK2_ESSAY + "\n\nMoreover, however, therefore."]
    outcomes = []
    for index, text in enumerate(texts):
        outcomes.append(
            await submit_essay(
                runtime.sessions,
                runtime.assessor,
                policy,
                EssayRequest(telegram_id=8, text=text),
                now=NOW + timedelta(minutes=index),
            )
        )
    history = await get_history(runtime.sessions, 8, limit=2)
    assert [item.submission.id for item in history.items] == [
        outcomes[2].submission.id,
        outcomes[1].submission.id,
    ]  # type: ignore[union-attr]
    bands = [outcome.result.overall for outcome in outcomes]
    assert history.trend.count == 3
    assert history.trend.best == max(bands)
    assert history.trend.change == bands[-1] - bands[0]
    assert history.trend.average == (sum(bands, Decimal(0)) / 3).quantize(Decimal("0.01"))


async def test_abandoned_pending_submissions_are_failed_and_refunded(runtime: Runtime) -> None:
    from bandwise.repositories import submissions as submission_rows
    from bandwise.services.limits import consume_check
    from bandwise.services.submissions import recover_abandoned

    async with runtime.sessions() as session, session.begin():
        user = await users.get_or_create(session, 11)
        for minutes_ago in (60, 1):  # one abandoned by a crash, one still being scored
            when = NOW - timedelta(minutes=minutes_ago)
            await consume_check(session, runtime.policy, user, when)
            await submission_rows.create(session, user.id, TASK2_ESSAY, TaskType.TASK_2, 200, when)

    assert await recover_abandoned(runtime.sessions, runtime.policy, now=NOW) == 1
    assert await recover_abandoned(runtime.sessions, runtime.policy, now=NOW) == 0
    async with runtime.sessions() as session:
        statuses = sorted(
            (row.submitted_at, row.processing_status)
            for row in await session.scalars(select(Submission))
        )
        assert [status for _, status in statuses] == [
            ProcessingStatus.FAILED,
            ProcessingStatus.PENDING,
        ]
        assert await rate_limits.used(session, user.id, NOW.date()) == 1


async def test_trend_covers_every_assessment_not_only_the_charted_ones(runtime: Runtime) -> None:
    # One assessment more than a chart shows: bands 6.5, 7.0, 7.5, 6.5, … oldest first.
    await seed(runtime.engine, users=1, per_user=CHART_POINTS + 1)
    history = await get_history(runtime.sessions, SEEDED_TELEGRAM_ID)
    assert len(history.series) == CHART_POINTS  # the chart's window leaves the oldest out
    assert history.series[0].overall == Decimal("7.0")
    assert history.trend.count == CHART_POINTS + 1
    assert history.trend.first == Decimal("6.5")  # the uncharted oldest one counts
    assert history.trend.latest == history.series[-1].overall
    assert history.trend.best == Decimal("7.5")
    assert history.trend.average == Decimal("7.00")
