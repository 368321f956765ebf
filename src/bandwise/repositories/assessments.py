"""Queries on ``assessments``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bandwise.models import Assessment, Submission
from bandwise.models.assessment import normalise_band

CHART_POINTS = 500  # the newest assessments a history chart shows


async def create(session: AsyncSession, submission_id: int, **fields: Any) -> Assessment:
    """Insert the assessment of ``submission_id`` and return it."""
    assessment = Assessment(submission_id=submission_id, **fields)
    session.add(assessment)
    await session.flush()
    return assessment


async def find_by_content_hash(session: AsyncSession, content_hash: str) -> Assessment | None:
    """Return the first stored assessment of the same essay, task and prompt, or None."""
    return await session.scalar(
        select(Assessment)
        .where(Assessment.content_hash == content_hash)
        .order_by(Assessment.id)
        .limit(1)
    )


async def get_for_submission(session: AsyncSession, submission_id: int) -> Assessment | None:
    """Return the assessment of ``submission_id``, or None."""
    return await session.scalar(select(Assessment).where(Assessment.submission_id == submission_id))


@dataclass(frozen=True)
class BandSeriesPoint:
    """One assessment of a user in time order, for trends and charts."""

    assessed_at: datetime
    overall: Decimal
    task_achievement: Decimal
    coherence_cohesion: Decimal
    lexical_resource: Decimal
    grammatical_accuracy: Decimal


async def band_series(
    session: AsyncSession, user_id: int, limit: int = CHART_POINTS
) -> list[BandSeriesPoint]:
    """Return the user's latest ``limit`` assessments, oldest first."""
    statement = (
        select(Assessment)
        .join(Submission, Submission.id == Assessment.submission_id)
        .where(Submission.user_id == user_id)
        .order_by(Assessment.assessed_at.desc(), Assessment.id.desc())
        .limit(limit)
    )
    rows = list(await session.scalars(statement))
    rows.reverse()
    return [
        BandSeriesPoint(
            assessed_at=row.assessed_at,
            overall=row.overall_band_score,
            task_achievement=row.task_achievement_score,
            coherence_cohesion=row.coherence_cohesion_score,
            lexical_resource=row.lexical_resource_score,
            grammatical_accuracy=row.grammatical_accuracy_score,
        )
        for row in rows
    ]


async def count(session: AsyncSession) -> int:
    """Return how many assessments there are."""
    return int(await session.scalar(select(func.count()).select_from(Assessment)) or 0)


@dataclass(frozen=True)
class BandSummary:
    """Aggregates of a user's overall bands over every assessment."""

    count: int
    best: Decimal | None
    average: Decimal | None
    first: Decimal | None
    latest: Decimal | None


async def band_summary(session: AsyncSession, user_id: int) -> BandSummary:
    """Return count, best, average, first and latest overall band of all the user's assessments."""
    mine = (
        select(Assessment.overall_band_score, Assessment.assessed_at, Assessment.id)
        .join(Submission, Submission.id == Assessment.submission_id)
        .where(Submission.user_id == user_id)
    )
    totals = (
        await session.execute(
            select(
                func.count(),
                func.max(Assessment.overall_band_score),
                func.avg(Assessment.overall_band_score),
            )
            .join(Submission, Submission.id == Assessment.submission_id)
            .where(Submission.user_id == user_id)
        )
    ).one()
    oldest = mine.order_by(Assessment.assessed_at, Assessment.id).limit(1)
    newest = mine.order_by(Assessment.assessed_at.desc(), Assessment.id.desc()).limit(1)
    first = await session.scalar(select(oldest.subquery().c.overall_band_score))
    latest = await session.scalar(select(newest.subquery().c.overall_band_score))
    average = None if totals[2] is None else Decimal(str(totals[2]))
    # Aggregates bypass the column type (SQLite returns floats): normalise like the column does.
    return BandSummary(
        int(totals[0]),
        normalise_band(totals[1]),
        average,
        normalise_band(first),
        normalise_band(latest),
    )
