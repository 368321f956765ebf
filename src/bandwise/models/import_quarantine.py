"""Rows an import could not convert, kept whole for the operator (nothing dropped silently)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bandwise.models.assessment import JsonDocument
from bandwise.models.base import Base, BigId, utcnow


class ImportQuarantine(Base):
    """One legacy row set aside by ``bandwise db import-sqlite --on-bad-rows quarantine``."""

    __tablename__ = "import_quarantine"
    __table_args__ = (Index("ix_import_quarantine_source", "source_table", "source_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_table: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    row_data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    quarantined_at: Mapped[datetime] = mapped_column(default=utcnow)
