"""A candidate's history: latest submissions with bands, and the trend over all of them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bandwise.db.retry import run_transaction
from bandwise.errors import NotFound
from bandwise.models import Assessment, Submission, User
from bandwise.repositories import assessments, submissions, users
from bandwise.repositories.assessments import BandSeriesPoint, BandSummary


@dataclass(frozen=True)
class HistoryItem:
    """One submission and, when scored, its assessment."""

    submission: Submission
    assessment: Assessment | None


@dataclass(frozen=True)
class Trend:
    """Best, average and change since the first assessment, over overall bands."""

    count: int
    best: Decimal | None
    average: Decimal | None
    first: Decimal | None
    latest: Decimal | None

    @property
    def change(self) -> Decimal | None:
        """Return latest minus first overall band."""
        if self.first is None or self.latest is None:
            return None
        return self.latest - self.first


@dataclass(frozen=True)
class History:
    """What the history screen and endpoint show."""

    user: User
    items: list[HistoryItem]
    trend: Trend
    series: list[BandSeriesPoint]


def trend_of(summary: BandSummary) -> Trend:
    """Return the trend of a user's band summary (average to two decimals)."""
    average = None if summary.average is None else summary.average.quantize(Decimal("0.01"))
    return Trend(summary.count, summary.best, average, summary.first, summary.latest)


async def get_history(
    sessions: async_sessionmaker[AsyncSession],
    telegram_id: int,
    limit: int = 10,
    *,
    retry_attempts: int = 3,
) -> History:
    """Return the candidate's history, or raise NotFound for an unknown Telegram id."""

    async def load(session: AsyncSession) -> History:
        user = await users.get_by_telegram_id(session, telegram_id)
        if user is None:
            raise NotFound(f"no candidate with telegram_id {telegram_id}")
        rows = await submissions.latest_with_assessments(session, user.id, limit)
        series = await assessments.band_series(session, user.id)  # the newest, for the chart
        trend = trend_of(await assessments.band_summary(session, user.id))  # over all of them
        return History(user, [HistoryItem(s, a) for s, a in rows], trend, series)

    return await run_transaction(sessions, load, attempts=retry_attempts)
