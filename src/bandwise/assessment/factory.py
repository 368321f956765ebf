"""Choose the assessor from settings."""

from __future__ import annotations

from bandwise.assessment.fallback import FallbackAssessor
from bandwise.assessment.llm import LLMAssessor, ProviderConfig
from bandwise.assessment.offline import OfflineAssessor
from bandwise.assessment.types import Assessor
from bandwise.config import Settings


def build_assessor(settings: Settings) -> Assessor:
    """Return the LLM assessor checked by the offline model, or the offline model alone."""
    if settings.ai_api_key is None:
        return OfflineAssessor()
    primary = LLMAssessor(ProviderConfig.from_settings(settings))
    return FallbackAssessor(primary, OfflineAssessor())
