"""POST /api/v1/submissions and GET /api/v1/users/{telegram_id}/history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from bandwise.api.deps import RuntimeDep
from bandwise.api.errors import error_responses
from bandwise.api.schemas import (
    TELEGRAM_ID_MAX,
    AssessmentOut,
    CriterionOut,
    HistoryEntryOut,
    HistoryOut,
    SubmissionIn,
    SubmissionOut,
    TrendOut,
)
from bandwise.assessment.bands import likely_band
from bandwise.assessment.types import CRITERIA
from bandwise.models import ProcessingStatus
from bandwise.services.history import get_history
from bandwise.services.submissions import EssayRequest, SubmissionOutcome, submit_essay

# The bearer token is checked by api/security.py before a route runs; 401 is documented here.
router = APIRouter(prefix="/api/v1", tags=["submissions"])


@router.post(
    "/submissions",
    response_model=SubmissionOut,
    status_code=201,
    responses=error_responses(401, 413, 422, 429, 502, 503),
)
async def create_submission(body: SubmissionIn, runtime: RuntimeDep) -> SubmissionOut:
    """Score an essay and store the submission with its assessment."""
    async with runtime.write_guard():
        outcome = await submit_essay(
            runtime.sessions,
            runtime.assessor,
            runtime.policy,
            EssayRequest(
                telegram_id=body.telegram_id,
                text=body.text,
                task_type=body.task_type,
                username=body.username,
                first_name=body.first_name,
                prompt=body.prompt,
            ),
            retry_attempts=runtime.settings.db_retry_attempts,
        )
    return _render(body, outcome)


def _render(body: SubmissionIn, outcome: SubmissionOutcome) -> SubmissionOut:
    result = outcome.result
    return SubmissionOut(
        id=outcome.submission.id if outcome.submission else None,
        telegram_id=body.telegram_id,
        task_type=outcome.task_type,
        word_count=outcome.word_count,
        status=ProcessingStatus.COMPLETED,
        submitted_at=outcome.submission.submitted_at if outcome.submission else None,
        saved=outcome.saved,
        remaining_today=outcome.allowance.remaining if outcome.allowance else None,
        assessment=AssessmentOut(
            id=outcome.assessment.id if outcome.assessment else None,
            overall_band=result.overall,
            band_low=result.band_low,
            band_high=result.band_high,
            likely=likely_band(result.overall, result.band_low, result.band_high),
            flagged=result.flagged,
            criteria={
                name: CriterionOut(
                    band=result.criteria[name].band,
                    justification=result.criteria[name].justification,
                )
                for name in CRITERIA
            },
            feedback=result.feedback,
            suggestions=result.suggestions,
            assessor=result.assessor,
            assessed_at=outcome.assessment.assessed_at if outcome.assessment else None,
        ),
    )


@router.get(
    "/users/{telegram_id}/history",
    response_model=HistoryOut,
    responses=error_responses(401, 404, 422, 503),
)
async def user_history(
    telegram_id: Annotated[int, Path(gt=0, le=TELEGRAM_ID_MAX, description="Telegram user id")],
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Entries to return")] = 10,
) -> HistoryOut:
    """Return the candidate's latest submissions with bands, and the trend."""
    history = await get_history(
        runtime.sessions, telegram_id, limit, retry_attempts=runtime.settings.db_retry_attempts
    )
    entries = []
    for item in history.items:
        assessment = item.assessment
        entries.append(
            HistoryEntryOut(
                submission_id=item.submission.id,
                submitted_at=item.submission.submitted_at,
                task_type=item.submission.task_type,
                word_count=item.submission.word_count,
                status=item.submission.processing_status,
                prompt=item.submission.prompt,
                overall_band=assessment.overall_band_score if assessment else None,
                band_low=assessment.band_low if assessment else None,
                band_high=assessment.band_high if assessment else None,
                criteria={
                    "task_achievement": assessment.task_achievement_score,
                    "coherence_cohesion": assessment.coherence_cohesion_score,
                    "lexical_resource": assessment.lexical_resource_score,
                    "grammatical_accuracy": assessment.grammatical_accuracy_score,
                }
                if assessment
                else None,
            )
        )
    trend = history.trend
    return HistoryOut(
        telegram_id=telegram_id,
        entries=entries,
        trend=TrendOut(
            assessments=trend.count,
            best=trend.best,
            average=trend.average,
            change_since_first=trend.change,
        ),
    )
