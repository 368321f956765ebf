"""The offline scorer's contract: bands, range, evidence, garbage, monotonic in plain errors."""

from __future__ import annotations

import random
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bandwise.assessment.bands import overall_band
from bandwise.assessment.features import measure
from bandwise.assessment.garbage import MAX_GARBAGE_BAND
from bandwise.assessment.offline import OfflineAssessor, criterion_offsets, fit_criteria
from bandwise.assessment.scorer import half_band, shipped_scorer
from bandwise.assessment.types import CRITERIA, AssessmentResult
from bandwise.models import TaskType
from testkit.essays import TASK1_ESSAY, TASK2_ESSAY

QUESTION = (
    "Some people believe that universities should focus on practical skills, while others "
    "think that academic knowledge matters more. Discuss both views and give your opinion."
)
OFF_TOPIC_QUESTION = (
    "Many cities are building more roads to reduce traffic congestion. Is this the best "
    "solution, or should governments invest in public transport instead?"
)
UNCONNECTED = (
    "The sky is blue today. My cat sleeps on the sofa. Bananas are a yellow fruit. Football "
    "matches start at noon. Trains run on electricity now. Winter brings snow to mountains. "
    "Coffee tastes bitter without sugar. Phones need charging every night. Rivers flow into "
    "the sea. Teachers mark homework on Sundays. Elephants have long memories. Bread is baked "
    "in ovens. Paris hosts many tourists. Guitars have six strings. Rain falls in autumn. "
) * 2
FRENCH = (
    "Le gouvernement doit investir davantage dans les transports publics, car ils réduisent "
    "la pollution et les embouteillages dans les grandes villes. De plus, les citoyens "
    "profitent de trajets moins chers et plus rapides, ce qui améliore leur qualité de vie. "
) * 4


def assess(text: str, task_type: TaskType = TaskType.TASK_2, prompt: str | None = None):  # type: ignore[no-untyped-def]
    return OfflineAssessor().assess_sync(text, task_type, prompt=prompt)


def shuffled(text: str, seed: int = 0) -> str:
    tokens = text.split()
    random.Random(seed).shuffle(tokens)
    return " ".join(tokens)


def test_bands_are_half_bands_in_range_with_a_range_around_the_overall() -> None:
    for text, task_type in ((TASK1_ESSAY, TaskType.TASK_1), (TASK2_ESSAY, TaskType.TASK_2)):
        result = assess(text, task_type)
        assert all(Decimal(1) <= result.criteria[n].band <= Decimal(9) for n in CRITERIA)
        assert all((result.criteria[n].band * 2) % 1 == 0 for n in CRITERIA)
        assert result.band_low is not None and result.band_high is not None
        assert result.band_low <= result.overall <= result.band_high
        assert result.band_high - result.band_low <= Decimal(3)


def test_criteria_average_to_the_predicted_overall() -> None:
    scorer = shipped_scorer()
    for text, task_type in ((TASK1_ESSAY, TaskType.TASK_1), (TASK2_ESSAY, TaskType.TASK_2)):
        predicted = scorer.predict(measure(text, task_type))
        result = assess(text, task_type)
        bands = [result.criteria[name].band for name in CRITERIA]
        assert overall_band(*bands) == half_band(predicted) == result.overall
        assert len(set(bands)) > 1  # each criterion rests on its own features


def test_the_same_essay_gets_the_same_result() -> None:
    assert assess(TASK2_ESSAY, prompt=QUESTION) == assess(TASK2_ESSAY, prompt=QUESTION)


def test_spelling_errors_lower_lexical_resource_and_never_raise_the_overall() -> None:
    clean = assess(TASK2_ESSAY)
    misspelt = TASK2_ESSAY.replace("important", "importent").replace("because", "becuase")
    misspelt = misspelt.replace("students", "studnets").replace("knowledge", "knowlege")
    worse = assess(misspelt)
    assert worse.overall <= clean.overall
    assert worse.criteria["lexical_resource"].band <= clean.criteria["lexical_resource"].band
    justification = worse.criteria["lexical_resource"].justification
    assert "“importent”" in justification or "“studnets”" in justification


def test_grammar_errors_are_quoted_and_never_raise_the_overall() -> None:
    clean = assess(TASK2_ESSAY)
    broken = TASK2_ESSAY.replace("students ", "students is ", 1).replace(
        "In my opinion", "In my opinion people is sure that"
    )
    worse = assess(broken)
    assert worse.overall <= clean.overall
    assert "“people is”" in worse.criteria["grammatical_accuracy"].justification


def test_a_sentence_without_a_verb_is_quoted() -> None:
    text = TASK2_ESSAY + "\n\nFirstly, the role of the modern university in society."
    justification = assess(text).criteria["grammatical_accuracy"].justification
    assert "without a verb: “Firstly, the role of the modern university in society.”" in (
        justification
    )


def test_task1_without_an_overview_says_so() -> None:
    without = TASK1_ESSAY.replace("Overall", "Also").replace("overall", "also")
    justification = assess(without, TaskType.TASK_1).criteria["task_achievement"].justification
    assert "no overview sentence" in justification


def test_task1_names_the_figures_it_quotes_and_misses() -> None:
    with_figures = assess(TASK1_ESSAY, TaskType.TASK_1).criteria["task_achievement"]
    bare = re.sub(r"\d+%?", "some", TASK1_ESSAY)
    without = assess(bare, TaskType.TASK_1)
    assert "figures from the data support the description" in with_figures.justification
    assert "lack figures" in without.criteria["task_achievement"].justification
    assert without.criteria["task_achievement"].band <= with_figures.band
    assert any("exact figures" in item for item in without.suggestions)


def test_task1_on_a_process_is_not_asked_for_figures() -> None:
    bare = re.sub(r"\d+%?", "some", TASK1_ESSAY)
    process = "The diagram shows the process by which cars are made in a factory."
    result = assess(bare, TaskType.TASK_1, prompt=process)
    assert "figures" not in result.criteria["task_achievement"].justification


def test_task1_opinion_is_named_and_lowers_task_achievement() -> None:
    last = TASK1_ESSAY.rsplit("Nevertheless", 1)[0]
    neutral = last + "By 2020, each of the three countries had far more cars than it had in 1990."
    opinion = last + "In my opinion, every one of these countries should build more railways soon."
    scorer = shipped_scorer()
    offsets = {
        text: criterion_offsets(scorer, measure(text, TaskType.TASK_1), TaskType.TASK_1)
        for text in (neutral, opinion)
    }
    assert offsets[opinion]["task_achievement"] < offsets[neutral]["task_achievement"]
    result = assess(opinion, TaskType.TASK_1)
    assert "personal opinion" in result.criteria["task_achievement"].justification
    assert (
        "personal opinion"
        not in assess(neutral, TaskType.TASK_1).criteria["task_achievement"].justification
    )


def test_relevance_to_the_question_feeds_task_response() -> None:
    on_topic = assess(TASK2_ESSAY, prompt=QUESTION)
    off_topic = assess(TASK2_ESSAY, prompt=OFF_TOPIC_QUESTION)
    no_question = assess(TASK2_ESSAY)
    assert "question's key words" in on_topic.criteria["task_achievement"].justification
    assert "never mentions" in off_topic.criteria["task_achievement"].justification
    assert "no question was given" in no_question.criteria["task_achievement"].justification
    assert off_topic.criteria["task_achievement"].band <= on_topic.criteria["task_achievement"].band


def test_suggestions_start_from_the_weakest_criterion() -> None:
    result = assess(TASK2_ESSAY.replace("important", "importent"))
    weakest = min(CRITERIA, key=lambda name: (result.criteria[name].band, CRITERIA.index(name)))
    assert 3 <= len(result.suggestions) <= 5
    hints = {
        "task_achievement": ("words", "overview", "position", "example"),
        "coherence_cohesion": ("paragraph", "Link"),
        "lexical_resource": ("spelling", "Vary", "words", "Paraphrase"),
        "grammatical_accuracy": ("Fix", "Proofread", "sentences"),
    }
    assert any(hint in result.suggestions[0] for hint in hints[weakest])


@pytest.mark.parametrize(
    ("label", "text", "prompt"),
    [
        ("shuffled words", shuffled(TASK2_ESSAY), None),
        ("shuffled words, other seed", shuffled(TASK2_ESSAY, 7), None),
        ("one word repeated", "the " * 300, None),
        ("one content word repeated", "technology " * 300, None),
        ("the prompt pasted back", (QUESTION + " ") * 4, QUESTION),
        ("non-English text", FRENCH, None),
        ("unconnected sentences", UNCONNECTED, None),
        ("unconnected sentences with a question", UNCONNECTED, OFF_TOPIC_QUESTION),
    ],
)
def test_garbage_never_scores_above_four(label: str, text: str, prompt: str | None) -> None:
    result: AssessmentResult = assess(text, prompt=prompt)
    assert result.overall <= Decimal(str(MAX_GARBAGE_BAND)), label
    assert result.band_high is not None and result.band_high <= Decimal(str(MAX_GARBAGE_BAND))
    assert "Not assessable as an essay" in result.criteria["task_achievement"].justification


def test_real_essays_are_not_taken_for_garbage() -> None:
    for text, task_type in ((TASK1_ESSAY, TaskType.TASK_1), (TASK2_ESSAY, TaskType.TASK_2)):
        result = assess(text, task_type)
        assert "Not assessable" not in result.criteria["task_achievement"].justification
        assert result.overall >= Decimal(5)


@given(
    overall=st.floats(min_value=0.0, max_value=10.0),
    offsets=st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=4, max_size=4),
    ceiling=st.sampled_from([9.0, 4.0, 2.0]),
)
def test_criteria_always_round_to_the_overall(
    overall: float, offsets: list[float], ceiling: float
) -> None:
    bands = fit_criteria(min(overall, ceiling), dict(zip(CRITERIA, offsets, strict=True)), ceiling)
    assert overall_band(*bands.values()) == half_band(min(overall, ceiling), ceiling)
    assert all(Decimal(1) <= band <= Decimal(str(ceiling)) for band in bands.values())
