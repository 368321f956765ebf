"""Recognise an essay scored before, and give back its stored result."""

from __future__ import annotations

import hashlib
import unicodedata

from bandwise.assessment.types import CRITERIA, AssessmentResult, CriterionScore, score_column
from bandwise.models import Assessment, TaskType


def _normalised(text: str) -> str:
    # Case, spacing and Unicode forms do not change an essay's score: they do not change its key.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(text: str, task_type: TaskType, prompt: str | None) -> str:
    """Return the key of an essay: sha256 of its normalised text, task and question."""
    parts = (task_type.value, _normalised(prompt or ""), _normalised(text))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def result_from_row(row: Assessment) -> AssessmentResult:
    """Return the assessment result a stored row holds."""
    return AssessmentResult(
        criteria={
            name: CriterionScore(
                getattr(row, score_column(name)),
                getattr(row, f"{name}_justification"),
            )
            for name in CRITERIA
        },
        feedback=row.detailed_feedback,
        suggestions=list(row.improvement_suggestions),
        assessor=row.assessor,
        band_low=row.band_low,
        band_high=row.band_high,
        flagged=row.flagged,
    )
