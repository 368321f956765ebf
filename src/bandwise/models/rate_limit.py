"""Per-user, per-day usage counters behind the daily limit."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bandwise.models.base import Base, BigId, utcnow


class RateLimit(Base):
    """How many checks a user consumed on one (limit-time-zone) day.

    Also the new home of the legacy ``users.daily_submissions``/``last_submission_date``.
    """

    __tablename__ = "rate_limits"
    __table_args__ = (UniqueConstraint("user_id", "submission_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    submission_date: Mapped[date] = mapped_column(Date, index=True)
    submission_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
