"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from bandwise.models import ProcessingStatus, TaskType

TELEGRAM_ID_MAX = 2**63 - 1  # BIGINT


def storable_text(value: str) -> str:
    """Refuse text no database can store: NUL bytes and lone surrogates (invalid UTF-8)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


StorableText = Annotated[str, AfterValidator(storable_text)]


class SubmissionIn(BaseModel):
    """An essay to score."""

    telegram_id: int = Field(
        gt=0, le=TELEGRAM_ID_MAX, description="Telegram user id of the candidate"
    )
    text: StorableText = Field(min_length=1, max_length=20_000, description="The essay")
    task_type: TaskType | None = Field(
        default=None, description="task_1 or task_2; detected when absent"
    )
    username: StorableText | None = Field(default=None, max_length=255)
    first_name: StorableText | None = Field(default=None, max_length=255)
    prompt: StorableText | None = Field(
        default=None,
        max_length=2_000,
        description="The task question the essay answers; relevance to it is scored",
    )


class CriterionOut(BaseModel):
    """One criterion's band and justification."""

    band: Decimal
    justification: str


class AssessmentOut(BaseModel):
    """The scores and feedback of a submission."""

    id: int | None
    overall_band: Decimal
    band_low: Decimal | None = Field(description="The human band likely lies in low–high")
    band_high: Decimal | None
    likely: str = Field(description='The band with its range, e.g. "6.5 (likely 6.0–7.0)"')
    flagged: bool = Field(description="The AI examiner and the offline model disagree")
    criteria: dict[str, CriterionOut]
    feedback: str
    suggestions: list[str]
    assessor: str
    assessed_at: datetime | None


class SubmissionOut(BaseModel):
    """A stored submission with its assessment."""

    id: int | None
    telegram_id: int
    task_type: TaskType
    word_count: int
    status: ProcessingStatus
    submitted_at: datetime | None
    saved: bool
    remaining_today: int | None
    assessment: AssessmentOut


class HistoryEntryOut(BaseModel):
    """One line of a candidate's history."""

    submission_id: int
    submitted_at: datetime
    task_type: TaskType
    word_count: int
    status: ProcessingStatus
    prompt: str | None
    overall_band: Decimal | None
    band_low: Decimal | None
    band_high: Decimal | None
    criteria: dict[str, Decimal] | None


class TrendOut(BaseModel):
    """Best, average and change since the first assessment."""

    assessments: int
    best: Decimal | None
    average: Decimal | None
    change_since_first: Decimal | None


class HistoryOut(BaseModel):
    """A candidate's latest submissions and trend."""

    telegram_id: int
    entries: list[HistoryEntryOut]
    trend: TrendOut
