"""The load harness's bot driver: essays as Telegram updates through the real Dispatcher."""

from __future__ import annotations

from bandwise.bot import texts
from bandwise.devtools.bot_driver import BotDriver, classify_replies
from bandwise.devtools.load import OK, run_load
from bandwise.runtime import Runtime
from bandwise.services.limits import LimitPolicy

USERS = 3
LIMIT = 2


async def test_candidates_get_exactly_their_daily_checks_through_the_bot(runtime: Runtime) -> None:
    """Three candidates submit back to back for a second: two assessments each, then refusals."""
    runtime.settings.daily_submission_limit = LIMIT
    runtime.settings.bot_processing_notice_seconds = 30.0
    runtime.policy = LimitPolicy.from_settings(runtime.settings)

    report = await run_load(BotDriver(runtime), users=USERS, duration=1.0)

    assert report.succeeded == USERS * LIMIT, [o for o in report.outcomes if not o.ok][:3]
    assert set(report.errors) == {"daily_limit"}
    assert report.throughput > 0
    assert report.latency(0.99) > 0


def test_replies_are_classified_by_what_the_candidate_was_told() -> None:
    """Assessment, unsaved assessment, limit, busy with its cause, silence."""
    assessment = "<b>IELTS Writing Task 2 — assessment</b>\n..."
    limit = texts.LIMIT_REACHED.format(
        limit=3, resets="00:00 UTC", remaining="5 h", price=250, days=30
    )
    assert classify_replies([assessment], []) == OK
    assert classify_replies([assessment, texts.NOT_SAVED], ["database_locked"]) == (
        "unsaved:database_locked"
    )
    assert classify_replies([limit], []) == "daily_limit"
    assert classify_replies([texts.BUSY], ["pool_timeout"]) == "busy:pool_timeout"
    assert classify_replies([texts.BUSY], []) == "busy"
    assert classify_replies([], []) == "no_reply"
    assert classify_replies(["something else"], []) == "unrecognised_reply"
