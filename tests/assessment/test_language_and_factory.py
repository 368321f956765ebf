"""English detection (offline, seeded) and the assessor chosen from settings."""

from __future__ import annotations

from bandwise.assessment.factory import build_assessor
from bandwise.assessment.fallback import FallbackAssessor
from bandwise.assessment.heuristic import HeuristicAssessor
from bandwise.assessment.language import detect_language, is_english
from bandwise.config import load_settings
from testkit.essays import TASK1_ESSAY, TASK2_ESSAY

SPANISH = (
    "Algunas personas creen que las universidades deberían centrarse en habilidades "
    "prácticas, mientras que otras piensan que el conocimiento académico es más importante. "
    "En mi opinión, ambos son importantes para los estudiantes y para la sociedad."
)


def test_english_essays_are_english() -> None:
    assert is_english(TASK1_ESSAY) and is_english(TASK2_ESSAY)


def test_other_languages_are_not_english_and_detection_repeats() -> None:
    assert not is_english(SPANISH)
    assert {detect_language(SPANISH).language for _ in range(3)} == {"es"}


def test_no_text_is_unknown() -> None:
    assert detect_language("12345 !!!").language == "unknown"


def test_factory_uses_heuristic_without_key_and_fallback_with_key() -> None:
    assert isinstance(build_assessor(load_settings()), HeuristicAssessor)
    assessor = build_assessor(load_settings(ai_api_key="k", ai_model="m"))
    assert isinstance(assessor, FallbackAssessor)
    assert assessor.primary.name == "llm:m" and assessor.fallback.name == "heuristic"


async def test_heuristic_is_deterministic() -> None:
    from bandwise.models import TaskType

    first = await HeuristicAssessor().assess(TASK2_ESSAY, TaskType.TASK_2)
    second = await HeuristicAssessor().assess(TASK2_ESSAY, TaskType.TASK_2)
    assert first == second and 3 <= len(first.suggestions) <= 5
