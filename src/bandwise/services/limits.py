"""The daily limit: which day a moment belongs to, when it resets, and consuming a check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bandwise import events
from bandwise.config import Settings
from bandwise.db.errors import CONNECTION_ERRORS
from bandwise.errors import DailyLimitReached
from bandwise.models import User
from bandwise.models.base import utcnow
from bandwise.repositories import rate_limits, users
from bandwise.wording import plural


@dataclass(frozen=True)
class LimitPolicy:
    """Daily allowances and the time zone in which a day begins."""

    free_per_day: int
    pro_per_day: int | None
    timezone: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> LimitPolicy:
        """Build the policy from the daily-limit settings and ``LIMIT_TIMEZONE``."""
        return cls(
            settings.daily_submission_limit,
            settings.pro_daily_limit,
            ZoneInfo(settings.limit_timezone),
        )

    def day_of(self, moment: datetime) -> date:
        """Return the limit day that ``moment`` falls in."""
        return moment.astimezone(self.timezone).date()

    def resets_at(self, moment: datetime) -> datetime:
        """Return when the day containing ``moment`` ends (the next midnight in the zone)."""
        next_day = self.day_of(moment) + timedelta(days=1)
        return datetime.combine(next_day, time(0), tzinfo=self.timezone)

    def limit_for(self, user: User, moment: datetime) -> int | None:
        """Return the user's daily allowance at ``moment`` (None: unlimited)."""
        return self.pro_per_day if user.has_pro(moment) else self.free_per_day


@dataclass(frozen=True)
class Allowance:
    """Where a user stands today."""

    used: int
    limit: int | None
    resets_at: datetime

    @property
    def remaining(self) -> int | None:
        """Return the checks left today (None: unlimited)."""
        return None if self.limit is None else max(0, self.limit - self.used)


async def consume_check(
    session: AsyncSession, policy: LimitPolicy, user: User, now: datetime
) -> Allowance:
    """Consume one of the user's checks for today, or raise DailyLimitReached."""
    limit = policy.limit_for(user, now)
    used = await rate_limits.consume(session, user.id, policy.day_of(now), limit)
    resets_at = policy.resets_at(now)
    if used is None:
        assert limit is not None
        events.emit(events.LimitRefused())
        raise _limit_reached(limit, resets_at)
    return Allowance(used=used, limit=limit, resets_at=resets_at)


def _limit_reached(limit: int, resets_at: datetime) -> DailyLimitReached:
    return DailyLimitReached(
        f"daily limit of {plural(limit, 'check')} reached; it resets at {resets_at.isoformat()}",
        limit=limit,
        resets_at=resets_at,
    )


async def ensure_check_left(
    sessions: async_sessionmaker[AsyncSession],
    policy: LimitPolicy,
    telegram_id: int,
    now: datetime | None = None,
) -> None:
    """Raise DailyLimitReached when the candidate has no check left today; consume nothing.

    A database that cannot answer is no reason to refuse here: the submission decides then.
    """
    moment = now or utcnow()
    try:
        async with sessions() as session:
            user = await users.get_by_telegram_id(session, telegram_id)
            standing = None if user is None else await allowance(session, policy, user, moment)
    except CONNECTION_ERRORS:
        return
    if standing is not None and standing.limit is not None and standing.remaining == 0:
        raise _limit_reached(standing.limit, standing.resets_at)


async def refund_check(
    session: AsyncSession, policy: LimitPolicy, user_id: int, when: datetime
) -> None:
    """Give back the check consumed at ``when`` (the essay could not be scored)."""
    await rate_limits.refund(session, user_id, policy.day_of(when))


async def allowance(
    session: AsyncSession, policy: LimitPolicy, user: User, now: datetime
) -> Allowance:
    """Return the user's allowance today without consuming anything."""
    used = await rate_limits.used(session, user.id, policy.day_of(now))
    return Allowance(used=used, limit=policy.limit_for(user, now), resets_at=policy.resets_at(now))
