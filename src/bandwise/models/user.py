"""Candidates known to the bot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from bandwise.models.base import Base, BigId, utcnow


class User(Base):
    """A Telegram user who has talked to the bot.

    The legacy columns ``daily_submissions`` and ``last_submission_date`` now live in
    ``rate_limits`` (one row per user and day); migration 0002 moves them there.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True, index=True)
    username: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_pro: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    pro_until: Mapped[datetime | None] = mapped_column(default=None)

    def has_pro(self, now: datetime) -> bool:
        """Tell whether the user has Pro at ``now`` (granted flag or a paid period)."""
        return self.is_pro or (self.pro_until is not None and self.pro_until > now)
