"""Choose the assessor from settings."""

from __future__ import annotations

from bandwise.assessment.fallback import FallbackAssessor
from bandwise.assessment.heuristic import HeuristicAssessor
from bandwise.assessment.llm import LLMAssessor, ProviderConfig
from bandwise.assessment.types import Assessor
from bandwise.config import Settings


def build_assessor(settings: Settings) -> Assessor:
    """Return the LLM assessor with the heuristic fallback, or the heuristic alone without a key."""
    if settings.ai_api_key is None:
        return HeuristicAssessor()
    primary = LLMAssessor(ProviderConfig.from_settings(settings))
    return FallbackAssessor(primary, HeuristicAssessor())
