"""Essays sent for scoring."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from bandwise.models.base import Base, BigId, utcnow
from bandwise.models.enums import PROCESSING_STATUS, TASK_TYPE, ProcessingStatus, TaskType


class Submission(Base):
    """One essay of one candidate and where its scoring stands."""

    __tablename__ = "submissions"
    __table_args__ = (
        # Serves the history query: a user's submissions, newest first.
        Index("ix_submissions_user_id_submitted_at", "user_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    # The task question the essay answers, when the candidate gave it.
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    task_type: Mapped[TaskType] = mapped_column(TASK_TYPE)
    word_count: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    processing_status: Mapped[ProcessingStatus] = mapped_column(
        PROCESSING_STATUS, default=ProcessingStatus.PENDING
    )
