"""Queries on ``submissions`` (and the history join with ``assessments``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bandwise.models import Assessment, ProcessingStatus, Submission, TaskType, utcnow


async def create(
    session: AsyncSession,
    user_id: int,
    text: str,
    task_type: TaskType,
    word_count: int,
    submitted_at: datetime | None = None,
    prompt: str | None = None,
) -> Submission:
    """Insert a pending submission and return it with its id."""
    submission = Submission(
        user_id=user_id,
        text=text,
        task_type=task_type,
        word_count=word_count,
        prompt=prompt,
        submitted_at=submitted_at or utcnow(),
        processing_status=ProcessingStatus.PENDING,
    )
    session.add(submission)
    await session.flush()
    return submission


async def set_status(session: AsyncSession, submission_id: int, status: ProcessingStatus) -> None:
    """Move a submission to ``status``."""
    await session.execute(
        update(Submission).where(Submission.id == submission_id).values(processing_status=status)
    )


async def fail_if_pending(session: AsyncSession, submission_id: int) -> bool:
    """Mark a pending submission failed; return whether this call did (claimed it).

    Whoever claims the row gives its check back: the request itself or the sweep of abandoned
    submissions, never both.
    """
    claimed = await session.execute(
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.processing_status == ProcessingStatus.PENDING,
        )
        .values(processing_status=ProcessingStatus.FAILED)
        .returning(Submission.id)
    )
    return claimed.first() is not None


async def latest_with_assessments(
    session: AsyncSession, user_id: int, limit: int
) -> list[tuple[Submission, Assessment | None]]:
    """Return the user's ``limit`` newest submissions with their assessments, newest first."""
    statement = (
        select(Submission, Assessment)
        .outerjoin(Assessment, Assessment.submission_id == Submission.id)
        .where(Submission.user_id == user_id)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
        .limit(limit)
    )
    rows = await session.execute(statement)
    return [(submission, assessment) for submission, assessment in rows.all()]


async def count_since(session: AsyncSession, since: datetime) -> int:
    """Return how many submissions arrived at or after ``since``."""
    statement = select(func.count()).select_from(Submission).where(Submission.submitted_at >= since)
    return int(await session.scalar(statement) or 0)


async def count(session: AsyncSession) -> int:
    """Return how many submissions there are."""
    return int(await session.scalar(select(func.count()).select_from(Submission)) or 0)


async def fail_pending_before(
    session: AsyncSession, cutoff: datetime
) -> list[tuple[int, datetime]]:
    """Mark submissions still pending since before ``cutoff`` failed; return (user_id, when).

    One UPDATE … RETURNING, so several instances sweeping at once each claim distinct rows.
    """
    statement = (
        update(Submission)
        .where(
            Submission.processing_status == ProcessingStatus.PENDING,
            Submission.submitted_at < cutoff,
        )
        .values(processing_status=ProcessingStatus.FAILED)
        .returning(Submission.user_id, Submission.submitted_at)
    )
    rows = await session.execute(statement)
    return [(user_id, submitted_at) for user_id, submitted_at in rows.all()]
