"""The load harness's bot driver: essays as Telegram updates through the real Dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bandwise.bot import texts
from bandwise.config import Settings
from bandwise.runtime import Runtime
from bandwise.services.limits import LimitPolicy
from testkit.bot_driver import BotDriver, classify_replies
from testkit.load import OK, essay_for, run_load
from testkit.monitoring import instance

USERS = 3
LIMIT = 2


async def test_candidates_get_exactly_their_daily_checks_through_the_bot(runtime: Runtime) -> None:
    """Three candidates submit four essays each: two assessments each, then refusals."""
    runtime.settings.daily_submission_limit = LIMIT
    runtime.settings.bot_processing_notice_seconds = 30.0
    runtime.policy = LimitPolicy.from_settings(runtime.settings)

    report = await run_load(
        BotDriver(runtime), users=USERS, duration=300, submissions_per_user=LIMIT + 2
    )

    assert report.succeeded == USERS * LIMIT, [o for o in report.outcomes if not o.ok][:3]
    assert report.errors == {"daily_limit": USERS * 2}
    assert report.throughput > 0
    assert report.latency(0.99) > 0


def test_replies_are_classified_by_what_the_candidate_was_told() -> None:
    """Assessment, unsaved assessment, limit, busy with its cause, silence."""
    assessment = "<b>IELTS Writing Task 2 — assessment</b>\n..."
    now = datetime(2026, 12, 1, 19, tzinfo=UTC)
    limit = texts.limit_reached(3, now + timedelta(hours=5), now, price=250, days=30)
    assert classify_replies([assessment], []) == OK
    assert classify_replies([assessment, texts.NOT_SAVED], ["database_locked"]) == (
        "unsaved:database_locked"
    )
    assert classify_replies([limit], []) == "daily_limit"
    assert classify_replies([texts.BUSY], ["pool_timeout"]) == "busy:pool_timeout"
    assert classify_replies([texts.BUSY], []) == "busy"
    assert classify_replies([], []) == "no_reply"
    assert classify_replies(["something else"], []) == "unrecognised_reply"


async def test_pool_exhaustion_is_counted_with_its_cause(settings: Settings) -> None:
    """With the only pooled connection held, the candidate's essay is scored but not saved."""
    narrow = settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": 0.2}
    )
    runtime = instance(narrow)
    engine = runtime.engine
    driver = BotDriver(runtime)
    try:
        async with engine.connect():
            starved = await driver.submit(4242, essay_for(1, 1))
        recovered = await driver.submit(4242, essay_for(1, 2))
    finally:
        await engine.dispose()

    assert starved.kind == "unsaved:pool_timeout", starved
    assert recovered.kind == OK, recovered
