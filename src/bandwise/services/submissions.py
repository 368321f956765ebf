"""The scoring flow: validate, consume a check, store, assess, store the assessment.

Scoring can take a while (an LLM call), so it runs between two short transactions instead of
holding a connection: (1) user, limit and pending submission; (2) assessment and status. A
failed scoring marks the submission failed and gives the check back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bandwise import events
from bandwise.assessment.cache import content_hash, result_from_row
from bandwise.assessment.language import detect_language
from bandwise.assessment.task_type import detect_task_type
from bandwise.assessment.text_stats import word_count
from bandwise.assessment.types import AssessmentResult, Assessor
from bandwise.db.retry import run_transaction
from bandwise.errors import (
    AssessmentFailed,
    DatabaseBusy,
    DatabaseError,
    DatabaseUnavailable,
    InvalidInput,
)
from bandwise.models import Assessment, ProcessingStatus, Submission, TaskType, utcnow
from bandwise.repositories import assessments, submissions, users
from bandwise.services.limits import Allowance, LimitPolicy, consume_check, refund_check

log = logging.getLogger(__name__)

MIN_WORDS = 50
# Default age of an abandoned submission when no settings say more (see scoring_deadline).
ABANDONED_AFTER = timedelta(minutes=15)
MAX_CHARACTERS = 20_000
MAX_PROMPT_CHARACTERS = 2_000


@dataclass(frozen=True)
class EssayRequest:
    """An essay as a candidate sent it."""

    telegram_id: int
    text: str
    task_type: TaskType | None = None
    username: str | None = None
    first_name: str | None = None
    prompt: str | None = None


@dataclass(frozen=True)
class SubmissionOutcome:
    """The stored submission and its assessment (``saved`` False: history not written)."""

    submission: Submission | None
    assessment: Assessment | None
    result: AssessmentResult
    task_type: TaskType
    word_count: int
    allowance: Allowance | None
    saved: bool


def clean_prompt(prompt: str | None) -> str | None:
    """Return the task question stripped, None when absent, or raise InvalidInput."""
    if prompt is None:
        return None
    cleaned = prompt.replace("\x00", "").strip()
    if len(cleaned) > MAX_PROMPT_CHARACTERS:
        raise InvalidInput(
            f"the task question is longer than {MAX_PROMPT_CHARACTERS} characters", field="prompt"
        )
    return cleaned or None


def validate_essay(request: EssayRequest) -> tuple[str, TaskType, int]:
    """Return (clean text, task type, word count) or raise InvalidInput naming the field."""
    if request.telegram_id <= 0:
        raise InvalidInput("telegram_id must be a positive Telegram user id", field="telegram_id")
    text = request.text.replace("\x00", "").strip()
    if not text:
        raise InvalidInput("the essay is empty", field="text")
    if len(text) > MAX_CHARACTERS:
        raise InvalidInput(f"the essay is longer than {MAX_CHARACTERS} characters", field="text")
    count = word_count(text)
    if count < MIN_WORDS:
        raise InvalidInput(
            f"the essay has {count} words; send at least {MIN_WORDS} to be assessed", field="text"
        )
    language = detect_language(text)
    if language.clearly_other:
        raise InvalidInput(
            f"the essay is not in English (it reads as '{language.language}'); "
            "IELTS essays are scored in English only",
            field="text",
        )
    task_type = request.task_type or detect_task_type(text).task_type
    return text, task_type, count


async def submit_essay(
    sessions: async_sessionmaker[AsyncSession],
    assessor: Assessor,
    policy: LimitPolicy,
    request: EssayRequest,
    *,
    now: datetime | None = None,
    retry_attempts: int = 3,
    allow_unsaved: bool = False,
) -> SubmissionOutcome:
    """Score an essay and record it; raise DailyLimitReached, InvalidInput, AssessmentFailed.

    With ``allow_unsaved`` a database outage does not stop the candidate from getting the
    assessment: it is returned with ``saved=False`` (nothing is recorded, no limit applied).
    """
    text, task_type, count = validate_essay(request)
    prompt = clean_prompt(request.prompt)
    key = content_hash(text, task_type, prompt)
    moment = now or utcnow()

    async def open_submission(
        session: AsyncSession,
    ) -> tuple[Submission, Allowance, AssessmentResult | None]:
        user = await users.get_or_create(
            session, request.telegram_id, request.username, request.first_name
        )
        allowance = await consume_check(session, policy, user, moment)
        submission = await submissions.create(
            session, user.id, text, task_type, count, moment, prompt=prompt
        )
        # The same essay and question get the stored result, not a second, different score.
        earlier = await assessments.find_by_content_hash(session, key)
        return submission, allowance, None if earlier is None else result_from_row(earlier)

    try:
        submission, allowance, earlier = await run_transaction(
            sessions, open_submission, attempts=retry_attempts
        )
    except DatabaseError as error:
        if not allow_unsaved or not isinstance(error, DatabaseUnavailable | DatabaseBusy):
            raise
        log.error("history not saved, scoring anyway: %s", error)
        result = await _assess(assessor, text, task_type, prompt)
        return SubmissionOutcome(None, None, result, task_type, count, None, saved=False)

    events.emit(events.EssaySubmitted(task_type.value))
    try:
        result = earlier or await _assess(assessor, text, task_type, prompt)
    except asyncio.CancelledError:  # the process is stopping past its grace period
        await asyncio.shield(_give_back(sessions, policy, submission, moment))
        raise
    except AssessmentFailed:
        await run_transaction(
            sessions, _failed_and_refunded(policy, submission, moment), attempts=retry_attempts
        )
        raise

    async def store(session: AsyncSession) -> Assessment:
        existing = await assessments.get_for_submission(session, submission.id)
        if existing is not None:  # a retried commit that had in fact succeeded
            return existing
        stored = await assessments.create(
            session, submission.id, content_hash=key, **result.column_values()
        )
        await submissions.set_status(session, submission.id, ProcessingStatus.COMPLETED)
        return stored

    try:
        assessment = await run_transaction(sessions, store, attempts=retry_attempts)
    except DatabaseError:
        await _give_back(sessions, policy, submission, moment)
        raise
    submission.processing_status = ProcessingStatus.COMPLETED
    return SubmissionOutcome(
        submission, assessment, result, task_type, count, allowance, saved=True
    )


def _failed_and_refunded(
    policy: LimitPolicy, submission: Submission, moment: datetime
) -> Callable[[AsyncSession], Awaitable[None]]:
    """Return the unit of work failing ``submission`` and refunding its check, once.

    The check goes back only if this request still finds the submission pending: the sweep
    of abandoned submissions may have claimed (and refunded) it already.
    """

    async def mark_failed(session: AsyncSession) -> None:
        if await submissions.fail_if_pending(session, submission.id):
            await refund_check(session, policy, submission.user_id, moment)

    return mark_failed


async def _give_back(
    sessions: async_sessionmaker[AsyncSession],
    policy: LimitPolicy,
    submission: Submission,
    moment: datetime,
) -> None:
    """Best effort after a failed save: mark the submission failed and refund the check.

    If the database is still away this fails too; ``recover_abandoned`` catches it later.
    """

    try:
        await run_transaction(
            sessions, _failed_and_refunded(policy, submission, moment), attempts=1
        )
    except DatabaseError as error:
        log.warning("submission %s left pending (%s); it is recovered later", submission.id, error)


async def recover_abandoned(
    sessions: async_sessionmaker[AsyncSession],
    policy: LimitPolicy,
    *,
    older_than: timedelta = ABANDONED_AFTER,
    now: datetime | None = None,
) -> int:
    """Fail submissions abandoned while pending (crash, lost database) and refund their checks.

    Returns how many were recovered. Safe to run from several instances at once.
    """
    cutoff = (now or utcnow()) - older_than

    async def sweep(session: AsyncSession) -> int:
        abandoned = await submissions.fail_pending_before(session, cutoff)
        for user_id, submitted_at in abandoned:
            await refund_check(session, policy, user_id, submitted_at)
        return len(abandoned)

    recovered = await run_transaction(sessions, sweep)
    if recovered:
        log.warning(
            "recovered %d abandoned submission(s): marked failed, checks refunded", recovered
        )
    return recovered


def scoring_deadline(ai_timeout: float, ai_max_retries: int, margin: float) -> timedelta:
    """Return how long a live request can keep a submission pending: LLM time + margin.

    Past it the request has failed or its process is gone, so the submission is abandoned.
    """
    return timedelta(seconds=ai_timeout * (ai_max_retries + 1) + margin)


async def sweep_abandoned_periodically(
    sessions: async_sessionmaker[AsyncSession],
    policy: LimitPolicy,
    *,
    older_than: timedelta,
    interval: float,
) -> None:
    """Run :func:`recover_abandoned` every ``interval`` seconds until cancelled.

    Every instance of the service may run it: each abandoned row is claimed by one UPDATE, so
    no check is given back twice. A database outage only postpones the next sweep.
    """
    while True:
        try:
            await recover_abandoned(sessions, policy, older_than=older_than)
        except DatabaseError as error:
            log.warning("could not sweep abandoned submissions: %s", error)
        await asyncio.sleep(interval)


async def _assess(
    assessor: Assessor, text: str, task_type: TaskType, prompt: str | None
) -> AssessmentResult:
    try:
        result = await assessor.assess(text, task_type, prompt=prompt)
    except AssessmentFailed:
        events.emit(events.EssayScored(assessor.name, succeeded=False))
        raise
    except Exception as error:
        events.emit(events.EssayScored(assessor.name, succeeded=False))
        log.exception("assessor %s failed", assessor.name)
        raise AssessmentFailed(f"the essay could not be scored: {error}") from error
    events.emit(events.EssayScored(result.assessor, succeeded=True))
    return result
