"""What an assessor returns, and the interface every assessor implements."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    overall: Decimal = field(default=Decimal(0))

    def __post_init__(self) -> None:
        missing = [name for name in CRITERIA if name not in self.criteria]
        if missing:
            raise ValueError(f"assessment lacks criteria: {', '.join(missing)}")
        computed = overall_band(*(self.criteria[name].band for name in CRITERIA))
        object.__setattr__(self, "overall", computed)

    def column_values(self) -> dict[str, object]:
        """Return the ``assessments`` columns of this result."""
        values: dict[str, object] = {
            "overall_band_score": self.overall,
            "detailed_feedback": self.feedback,
            "improvement_suggestions": list(self.suggestions),
            "assessor": self.assessor,
        }
        for name in CRITERIA:
            score_column = (
                "grammatical_accuracy_score" if name == "grammatical_accuracy" else f"{name}_score"
            )
            values[score_column] = self.criteria[name].band
            values[f"{name}_justification"] = self.criteria[name].justification
        return values


class Assessor(Protocol):
    """Anything that can score an essay."""

    name: str

    async def assess(self, text: str, task_type: TaskType) -> AssessmentResult:
        """Score ``text`` as an IELTS ``task_type`` essay."""
        ...
