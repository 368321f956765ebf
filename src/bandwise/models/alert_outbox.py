"""Alert messages on their way to the destinations: the alerter's outbox, kept across restarts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bandwise.models.assessment import JsonDocument
from bandwise.models.base import Base, BigId, utcnow


class AlertDelivery(Base):
    """One alert message and the destinations it has still to reach (ids give the order)."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # Labels of the destinations not reached yet ("webhook", "telegram <chat id>").
    pending: Mapped[list[str]] = mapped_column(JsonDocument)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once nothing is left to try: every destination reached, or given up (last_error).
    done_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
