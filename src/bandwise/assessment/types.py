"""What an assessor returns, and the interface every assessor implements."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from bandwise.assessment.bands import overall_band
from bandwise.models import TaskType

CRITERIA = (
    "task_achievement",
    "coherence_cohesion",
    "lexical_resource",
    "grammatical_accuracy",
)
CRITERION_TITLES = {
    "task_achievement": "Task Achievement / Response",
    "coherence_cohesion": "Coherence and Cohesion",
    "lexical_resource": "Lexical Resource",
    "grammatical_accuracy": "Grammatical Range and Accuracy",
}


def score_column(criterion: str) -> str:
    """Return the ``assessments`` column holding ``criterion``'s band."""
    return (
        "grammatical_accuracy_score"
        if criterion == "grammatical_accuracy"
        else f"{criterion}_score"
    )


@dataclass(frozen=True)
class CriterionScore:
    """One criterion's band and the reason for it."""

    band: Decimal
    justification: str


@dataclass(frozen=True)
class AssessmentResult:
    """A complete, validated assessment of one essay."""

    criteria: dict[str, CriterionScore]
    feedback: str
    suggestions: list[str]
    assessor: str
    # The likely range of the human band (from the offline model's cross-validation
    # residuals); None only where nothing measured it.
    band_low: Decimal | None = None
    band_high: Decimal | None = None
    # Set when the language model and the offline model disagree by more than allowed.
    flagged: bool = False
    # The offline model found no essay to score (word salad, the question pasted back, ...).
    not_an_essay: bool = False
    overall: Decimal = field(default=Decimal(0))

    def __post_init__(self) -> None:
        missing = [name for name in CRITERIA if name not in self.criteria]
        if missing:
            raise ValueError(f"assessment lacks criteria: {', '.join(missing)}")
        computed = overall_band(*(self.criteria[name].band for name in CRITERIA))
        object.__setattr__(self, "overall", computed)
        if self.band_low is not None and self.band_high is not None:
            # The range always holds the overall it qualifies.
            object.__setattr__(self, "band_low", min(self.band_low, computed))
            object.__setattr__(self, "band_high", max(self.band_high, computed))

    def with_checks(
        self, *, band_low: Decimal, band_high: Decimal, flagged: bool
    ) -> AssessmentResult:
        """Return this result with a likely range and the disagreement flag set."""
        return replace(self, band_low=band_low, band_high=band_high, flagged=flagged)

    def column_values(self) -> dict[str, object]:
        """Return the ``assessments`` columns of this result."""
        values: dict[str, object] = {
            "overall_band_score": self.overall,
            "detailed_feedback": self.feedback,
            "improvement_suggestions": list(self.suggestions),
            "assessor": self.assessor,
            "band_low": self.band_low,
            "band_high": self.band_high,
            "flagged": self.flagged,
        }
        for name in CRITERIA:
            values[score_column(name)] = self.criteria[name].band
            values[f"{name}_justification"] = self.criteria[name].justification
        return values


class Assessor(Protocol):
    """Anything that can score an essay."""

    name: str

    async def assess(
        self, text: str, task_type: TaskType, *, prompt: str | None = None
    ) -> AssessmentResult:
        """Score ``text`` as an IELTS ``task_type`` essay answering ``prompt`` (if known)."""
        ...
