"""Try the language model first, check it against the offline model, fall back when it fails."""

from __future__ import annotations

import logging

from bandwise import events
from bandwise.assessment.types import AssessmentResult, Assessor
from bandwise.errors import AssessmentFailed
from bandwise.models import TaskType

log = logging.getLogger(__name__)

MAX_DISAGREEMENT = 1.5  # bands between the LLM's overall and the offline model's


class FallbackAssessor:
    """Ask ``primary``; on any failure (or an open breaker) score with ``fallback`` instead.

    The offline ``fallback`` also checks every answer of the primary: the result carries the
    offline model's measured range around the primary's band, and is flagged (logged and
    counted) when the two differ by more than 1.5 bands. The result's ``assessor`` names
    whichever assessor actually scored the essay, so the reply and the database both say it.
    """

    def __init__(self, primary: Assessor, fallback: Assessor) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = f"{primary.name}|{fallback.name}"

    async def assess(
        self, text: str, task_type: TaskType, *, prompt: str | None = None
    ) -> AssessmentResult:
        """Score ``text`` with the primary assessor, or the fallback when the primary fails."""
        offline = await self.fallback.assess(text, task_type, prompt=prompt)
        if offline.not_an_essay:
            # No essay to score: the language model's opinion cannot make it one.
            return offline
        try:
            result = await self.primary.assess(text, task_type, prompt=prompt)
        except AssessmentFailed as error:
            log.warning(
                "%s failed (%s); scoring with %s", self.primary.name, error, self.fallback.name
            )
            return offline
        return checked_against(result, offline)


def checked_against(result: AssessmentResult, offline: AssessmentResult) -> AssessmentResult:
    """Return ``result`` with the offline range around its band, flagged if far from offline."""
    if offline.band_low is None or offline.band_high is None:
        return result
    gap = abs(result.overall - offline.overall)
    flagged = gap > MAX_DISAGREEMENT
    if flagged:
        log.warning(
            "%s gave %s, the offline model %s: %s bands apart, result flagged",
            result.assessor,
            result.overall,
            offline.overall,
            gap,
        )
        events.emit(events.ScoresDisagreed(result.assessor))
    shift = result.overall - offline.overall
    low = max(offline.band_low + shift, type(shift)(1))
    high = min(offline.band_high + shift, type(shift)(9))
    return result.with_checks(band_low=low, band_high=high, flagged=flagged)
