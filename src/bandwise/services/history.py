"""A candidate's history: latest submissions with bands, and the trend over all of them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bandwise.errors import NotFound
from bandwise.models import Assessment, Submission, User
from bandwise.repositories import assessments, submissions, users
from bandwise.repositories.assessments import BandSeriesPoint


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


def compute_trend(series: list[BandSeriesPoint]) -> Trend:
    """Return the trend of a time-ordered band series."""
    if not series:
        return Trend(0, None, None, None, None)
    overall = [point.overall for point in series]
    average = (sum(overall, Decimal(0)) / len(overall)).quantize(Decimal("0.01"))
    return Trend(len(series), max(overall), average, overall[0], overall[-1])


async def get_history(session: AsyncSession, telegram_id: int, limit: int = 10) -> History:
    """Return the candidate's history, or raise NotFound for an unknown Telegram id."""
    user = await users.get_by_telegram_id(session, telegram_id)
    if user is None:
        raise NotFound(f"no candidate with telegram_id {telegram_id}")
    rows = await submissions.latest_with_assessments(session, user.id, limit)
    series = await assessments.band_series(session, user.id)
    return History(user, [HistoryItem(s, a) for s, a in rows], compute_trend(series), series)
