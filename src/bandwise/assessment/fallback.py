"""Try the language model first and fall back to the offline assessor when it fails."""

from __future__ import annotations

import logging

from bandwise.assessment.types import AssessmentResult, Assessor
from bandwise.errors import AssessmentFailed
from bandwise.models import TaskType

log = logging.getLogger(__name__)


class FallbackAssessor:
    """Ask ``primary``; on any failure (or an open breaker) score with ``fallback`` instead.

    The result's ``assessor`` names whichever assessor actually scored the essay, so the
    reply and the database both say it.
    """

    def __init__(self, primary: Assessor, fallback: Assessor) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = f"{primary.name}|{fallback.name}"

    async def assess(self, text: str, task_type: TaskType) -> AssessmentResult:
        """Score ``text`` with the primary assessor, or the fallback when the primary fails."""
        try:
            return await self.primary.assess(text, task_type)
        except AssessmentFailed as error:
            log.warning(
                "%s failed (%s); scoring with %s", self.primary.name, error, self.fallback.name
            )
        return await self.fallback.assess(text, task_type)
