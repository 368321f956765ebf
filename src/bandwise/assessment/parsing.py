"""Turn a language model's JSON answer into a validated AssessmentResult."""

from __future__ import annotations

import json
import re
from typing import Any

from bandwise.assessment.bands import parse_band
from bandwise.assessment.types import CRITERIA, AssessmentResult, CriterionScore

MIN_SUGGESTIONS = 3
MAX_SUGGESTIONS = 5
CODE_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class AnswerInvalid(ValueError):
    """The answer is not a valid assessment; the message says what is wrong and where."""


def _load_json(content: str) -> dict[str, Any]:
    fenced = CODE_FENCE.match(content)
    body = fenced.group(1) if fenced else content.strip()
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise AnswerInvalid(
            f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc
    if not isinstance(document, dict):
        raise AnswerInvalid("the answer is JSON but not an object")
    return document


def _criterion(criteria: dict[str, Any], name: str) -> CriterionScore:
    entry = criteria.get(name)
    if not isinstance(entry, dict):
        raise AnswerInvalid(f"criteria.{name} is missing or not an object")
    try:
        band = parse_band(entry.get("band"))
    except ValueError as exc:
        raise AnswerInvalid(f"criteria.{name}.band: {exc}") from exc
    justification = entry.get("justification")
    if not isinstance(justification, str) or not justification.strip():
        raise AnswerInvalid(f"criteria.{name}.justification is missing or empty")
    return CriterionScore(band, justification.strip())


def parse_assessment(content: str, assessor: str) -> AssessmentResult:
    """Validate ``content`` and return the assessment, or raise AnswerInvalid naming the fault."""
    document = _load_json(content)
    criteria = document.get("criteria")
    if not isinstance(criteria, dict):
        raise AnswerInvalid("criteria is missing or not an object")
    scores = {name: _criterion(criteria, name) for name in CRITERIA}
    suggestions = document.get("suggestions")
    if not isinstance(suggestions, list) or not all(
        isinstance(item, str) and item.strip() for item in suggestions
    ):
        raise AnswerInvalid("suggestions must be a list of non-empty strings")
    if not MIN_SUGGESTIONS <= len(suggestions) <= MAX_SUGGESTIONS:
        raise AnswerInvalid(
            f"suggestions has {len(suggestions)} items; "
            f"{MIN_SUGGESTIONS}–{MAX_SUGGESTIONS} are required"
        )
    feedback = document.get("feedback")
    if feedback is not None and not isinstance(feedback, str):
        raise AnswerInvalid("feedback must be a string")
    return AssessmentResult(
        criteria=scores,
        feedback=(feedback or "").strip(),
        suggestions=[item.strip() for item in suggestions],
        assessor=assessor,
    )
