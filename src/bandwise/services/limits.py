"""The daily limit: which day a moment belongs to, when it resets, and consuming a check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bandwise import events
from bandwise.config import Settings
from bandwise.errors import DailyLimitReached
from bandwise.models import User
from bandwise.repositories import rate_limits


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
        raise DailyLimitReached(
            f"daily limit of {limit} checks reached; it resets at {resets_at.isoformat()}",
            limit=limit,
            resets_at=resets_at,
        )
    return Allowance(used=used, limit=limit, resets_at=resets_at)


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
