"""Queries on ``users``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bandwise.models import User, utcnow
from bandwise.repositories.dialect import upsert_insert


async def get_or_create(
    session: AsyncSession,
    telegram_id: int,
    username: str | None = None,
    first_name: str | None = None,
) -> User:
    """Return the user with ``telegram_id``, creating it atomically (race-free) when new.

    Known users get their username and first name refreshed when Telegram reports new ones.
    """
    insert = upsert_insert(session, User)
    values = {
        "telegram_id": telegram_id,
        "username": username,
        "first_name": first_name,
        "created_at": utcnow(),
        "is_pro": False,
    }
    refreshed = {
        "username": func.coalesce(insert.excluded.username, User.username),
        "first_name": func.coalesce(insert.excluded.first_name, User.first_name),
    }
    statement = (
        insert.values(**values)
        .on_conflict_do_update(index_elements=[User.telegram_id], set_=refreshed)
        .returning(User)
    )
    result = await session.scalars(statement, execution_options={"populate_existing": True})
    user: User = result.one()
    return user


async def get_by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    """Return the user with ``telegram_id``, or None."""
    return await session.scalar(select(User).where(User.telegram_id == telegram_id))


async def set_pro(session: AsyncSession, user_id: int, enabled: bool) -> None:
    """Grant or revoke the permanent Pro flag."""
    await session.execute(update(User).where(User.id == user_id).values(is_pro=enabled))


async def set_pro_until(session: AsyncSession, user_id: int, until: datetime | None) -> None:
    """Set the end of the user's paid Pro period (None: no paid period)."""
    await session.execute(update(User).where(User.id == user_id).values(pro_until=until))


async def count(session: AsyncSession) -> int:
    """Return how many users there are."""
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def count_pro(session: AsyncSession, now: datetime) -> int:
    """Return how many users have Pro at ``now``."""
    condition = or_(User.is_pro.is_(True), User.pro_until > now)
    return int(await session.scalar(select(func.count()).select_from(User).where(condition)) or 0)
