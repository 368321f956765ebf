"""Figures for the admins' /stats: users, today's submissions, assessments, Pro users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bandwise.db.retry import run_transaction
from bandwise.repositories import assessments, payments, submissions, users
from bandwise.services.limits import LimitPolicy


@dataclass(frozen=True)
class UsageStats:
    """Counts across the whole database."""

    users: int
    submissions_today: int
    assessments: int
    pro_users: int
    payments: int


async def usage_stats(
    sessions: async_sessionmaker[AsyncSession],
    policy: LimitPolicy,
    now: datetime,
    *,
    retry_attempts: int = 3,
) -> UsageStats:
    """Return the usage counts; "today" is the limit day (``LIMIT_TIMEZONE``) containing ``now``."""
    day_start = datetime.combine(policy.day_of(now), time(0), tzinfo=policy.timezone)

    async def count(session: AsyncSession) -> UsageStats:
        return UsageStats(
            users=await users.count(session),
            submissions_today=await submissions.count_since(session, day_start),
            assessments=await assessments.count(session),
            pro_users=await users.count_pro(session, now),
            payments=await payments.count(session),
        )

    return await run_transaction(sessions, count, attempts=retry_attempts)
