"""Band scores and feedback for a submission."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Numeric,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bandwise.models.base import Base, BigId, utcnow

SCORE_COLUMNS = (
    "task_achievement_score",
    "coherence_cohesion_score",
    "lexical_resource_score",
    "grammatical_accuracy_score",
    "overall_band_score",
)


class BandType(TypeDecorator[Decimal]):
    """A band stored as NUMERIC(4, 2) (legacy quarter bands fit) and read back as 6.5, not 6.50."""

    impl = Numeric(4, 2, asdecimal=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return normalise_band(value)


def normalise_band(value: Any) -> Decimal | None:
    """Return a stored band as Decimal with one decimal (6.5), or two for legacy quarters."""
    if value is None:
        return None
    band = Decimal(str(value)).quantize(Decimal("0.01"))
    tenth = band.quantize(Decimal("0.1"))
    return tenth if tenth == band else band


Band = BandType()
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


def _band_range_check(column: str) -> CheckConstraint:
    # Range only: legacy rows may hold quarter bands; the half-band rule is enforced when new
    # assessments are validated (bandwise.assessment.bands).
    return CheckConstraint(f"{column} >= 0 AND {column} <= 9", name=f"{column}_range")


class Assessment(Base):
    """The one assessment of a submission: four criteria, overall band, feedback."""

    __tablename__ = "assessments"
    __table_args__ = tuple(_band_range_check(column) for column in SCORE_COLUMNS)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("submissions.id", ondelete="CASCADE"), unique=True, index=True
    )
    task_achievement_score: Mapped[Decimal] = mapped_column(Band)
    coherence_cohesion_score: Mapped[Decimal] = mapped_column(Band)
    lexical_resource_score: Mapped[Decimal] = mapped_column(Band)
    grammatical_accuracy_score: Mapped[Decimal] = mapped_column(Band)
    overall_band_score: Mapped[Decimal] = mapped_column(Band)
    detailed_feedback: Mapped[str] = mapped_column(Text)
    improvement_suggestions: Mapped[list[Any]] = mapped_column(JsonDocument)
    task_achievement_justification: Mapped[str] = mapped_column(Text, server_default=text("''"))
    coherence_cohesion_justification: Mapped[str] = mapped_column(Text, server_default=text("''"))
    lexical_resource_justification: Mapped[str] = mapped_column(Text, server_default=text("''"))
    grammatical_accuracy_justification: Mapped[str] = mapped_column(Text, server_default=text("''"))
    # Which assessor produced the scores: "llm:<model>", "offline" ("heuristic" before 0005),
    # or "legacy" for old rows.
    assessor: Mapped[str] = mapped_column(String(100), server_default=text("'legacy'"))
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the human band likely lies (cross-validated residuals); NULL on older rows.
    band_low: Mapped[Decimal | None] = mapped_column(Band, nullable=True)
    band_high: Mapped[Decimal | None] = mapped_column(Band, nullable=True)
    # The language model and the offline model disagreed by more than 1.5 bands.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # sha256 of the normalised essay, task and prompt: the same essay gets the same result.
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
