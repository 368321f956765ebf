"""The offline assessor: a model fitted on human bands, explained with this essay's evidence.

The overall band comes from the fitted scorer (``scorer.py``). The data it was fitted on has
overall bands only, so the four criteria are placed around that overall by their own features
(length and relevance for Task Achievement, paragraphing and linking for Coherence, spelling and
vocabulary for Lexical Resource, error patterns and sentence structure for Grammar), then
adjusted so their rounded mean is exactly the predicted overall. Deterministic, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bandwise.assessment.bands import overall_band
from bandwise.assessment.features import MINIMUM_WORDS, EssayFeatures, measure
from bandwise.assessment.garbage import NotAnEssay, not_an_essay
from bandwise.assessment.scorer import FittedScorer, half_band, shipped_scorer
from bandwise.assessment.types import CRITERIA, AssessmentResult, CriterionScore
from bandwise.models import TaskType
from bandwise.wording import plural

HALF = Decimal("0.5")
MAX_SPREAD = 1.0  # a criterion sits at most one band from the overall on its own features
# (feature, direction) per criterion: each criterion rests on its own measures.
CRITERION_FEATURES: dict[str, tuple[tuple[str, float], ...]] = {
    "task_achievement": (
        ("log_length_ratio", 1.0),
        ("under_minimum", -2.0),
        ("prompt_coverage", 1.0),
        ("copied_share", -1.0),
    ),
    "coherence_cohesion": (
        ("paragraphs", 0.5),
        ("distinct_linkers", 1.0),
        ("adjacent_overlap", 0.5),
        ("repeated_trigram_share", -0.5),
    ),
    "lexical_resource": (
        ("spelling_rate", -1.5),
        ("moving_ttr", 1.0),
        ("long_word_share", 1.0),
        ("top_word_share", -0.5),
    ),
    "grammatical_accuracy": (
        ("grammar_rate", -1.5),
        ("verbless_share", -1.0),
        ("complex_share", 0.5),
        ("lowercase_starts", -1.0),
    ),
}
WEIGHT = 0.25  # bands per standard deviation of a feature
# A Task 1 report on data (chart, table, graph) supports its main features with figures; one on
# a process or a map has none to quote, so only reports on data are held to this.
MIN_FIGURES = 3
NO_FIGURES_TASK = re.compile(
    r"\b(process|stages?|life cycle|maps?|plans?|layout|how \w+ (?:is|are) (?:made|produced))\b"
)


@dataclass(frozen=True)
class _Scored:
    overall: float
    criteria: dict[str, Decimal]


def _quote(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _list(items: list[str], limit: int = 4) -> str:
    return ", ".join(f"“{item}”" for item in items[:limit])


def figures_quoted(measured: EssayFeatures) -> int:
    """Return how many figures (numbers, percentages, years) the essay quotes."""
    return round(measured.values["number_rate"] * measured.word_count / 100)


def reports_on_data(text: str, prompt: str | None) -> bool:
    """Return whether a Task 1 answer describes data (not a process or a map)."""
    opening = (prompt or "").lower() or " ".join(text.split()[:40]).lower()
    return not NO_FIGURES_TASK.search(opening)


def _task1_markers(measured: EssayFeatures, on_data: bool) -> float:
    # An overview, figures behind it (for data) and no personal opinion are what Task 1 asks.
    total = 0.25 if measured.evidence.has_overview else -0.5
    if on_data:
        total += 0.25 if figures_quoted(measured) >= MIN_FIGURES else -0.25
    if measured.evidence.has_position:
        total -= 0.25
    return total


def criterion_offsets(
    scorer: FittedScorer, measured: EssayFeatures, task_type: TaskType, *, on_data: bool = True
) -> dict[str, float]:
    """Return each criterion's distance from the overall, from its own features (mean 0)."""
    raw: dict[str, float] = {}
    for name, weighted in CRITERION_FEATURES.items():
        total = 0.0
        for feature, direction in weighted:
            if feature in {"prompt_coverage", "copied_share"} and not measured.values["has_prompt"]:
                continue
            z = max(-3.0, min(3.0, scorer.standardised(measured, feature)))
            total += WEIGHT * direction * z
        if name == "task_achievement" and task_type is TaskType.TASK_1:
            total += _task1_markers(measured, on_data)
        elif name == "task_achievement":
            total += 0.25 if measured.evidence.has_position else -0.5
        raw[name] = max(-MAX_SPREAD, min(MAX_SPREAD, total))
    mean = sum(raw.values()) / len(raw)
    return {name: value - mean for name, value in raw.items()}


def fit_criteria(overall: float, offsets: dict[str, float], ceiling: float) -> dict[str, Decimal]:
    """Return half-band criteria around ``overall`` whose IELTS-rounded mean equals it."""
    target = half_band(overall, ceiling)
    bands = {name: half_band(overall + offsets[name], ceiling) for name in CRITERIA}
    for _ in range(16):
        current = overall_band(*bands.values())
        if current == target:
            break
        step = HALF if current < target else -HALF
        # Move the criterion whose rounding moved it furthest the wrong way.
        candidates = [
            name for name in CRITERIA if Decimal(1) <= bands[name] + step <= Decimal(ceiling)
        ]
        chosen = min(
            candidates,
            key=lambda name: (float(bands[name]) - overall - offsets[name]) * float(step * 2),
        )
        bands[chosen] += step
    return bands


class OfflineAssessor:
    """Score essays with the shipped fitted model (no network, deterministic)."""

    name = "offline"

    def __init__(self, scorer: FittedScorer | None = None) -> None:
        self.scorer = scorer or shipped_scorer()

    async def assess(
        self, text: str, task_type: TaskType, *, prompt: str | None = None
    ) -> AssessmentResult:
        """Score ``text`` as an IELTS ``task_type`` essay answering ``prompt``."""
        return self.assess_sync(text, task_type, prompt=prompt)

    def assess_sync(
        self, text: str, task_type: TaskType, *, prompt: str | None = None
    ) -> AssessmentResult:
        """Score ``text`` synchronously (the measures are CPU-only)."""
        measured = measure(text, task_type, prompt)
        garbage = not_an_essay(measured)
        ceiling = garbage.ceiling if garbage else 9.0
        overall = min(self.scorer.predict(measured), ceiling)
        on_data = reports_on_data(text, prompt)
        offsets = criterion_offsets(self.scorer, measured, task_type, on_data=on_data)
        if garbage:
            offsets = dict.fromkeys(CRITERIA, 0.0)
        bands = fit_criteria(overall, offsets, ceiling)
        likely = self.scorer.band_range(overall, ceiling)
        justifications = _justifications(measured, task_type, garbage, on_data)
        criteria = {name: CriterionScore(bands[name], justifications[name]) for name in CRITERIA}
        weakest = min(CRITERIA, key=lambda name: (bands[name], CRITERIA.index(name)))
        feedback = (
            f"Scored offline by a model fitted on essays banded by human examiners. "
            f"{garbage.reason.capitalize()}, so this is not scored as an essay."
            if garbage
            else "Scored offline by a model fitted on essays banded by human examiners; "
            "the range held the human band for more than 4 in 5 essays in validation."
        )
        return AssessmentResult(
            criteria=criteria,
            feedback=feedback,
            suggestions=_suggestions(measured, task_type, weakest, garbage, on_data),
            assessor=self.name,
            band_low=likely.low,
            band_high=likely.high,
            not_an_essay=garbage is not None,
        )


def _justifications(
    measured: EssayFeatures, task_type: TaskType, garbage: NotAnEssay | None, on_data: bool
) -> dict[str, str]:
    evidence = measured.evidence
    values = measured.values
    minimum = MINIMUM_WORDS[task_type]
    if garbage:
        return dict.fromkeys(CRITERIA, f"Not assessable as an essay: {garbage.reason}.")
    task = [f"{measured.word_count} words against the {minimum}-word minimum"]
    if measured.word_count < minimum:
        task[0] += " (under it: this lowers the band)"
    if task_type is TaskType.TASK_1:
        task.append(
            "an overview of the main features is given"
            if evidence.has_overview
            else "no overview sentence (such as “Overall, …”) summarises the main features"
        )
        figures = figures_quoted(measured)
        if on_data and figures >= MIN_FIGURES:
            task.append(f"{plural(figures, 'figure')} from the data support the description")
        elif on_data:
            quoted = f"only {plural(figures, 'figure')}" if figures else "no figures"
            task.append(f"{quoted} from the data: the main features lack figures to support them")
        if evidence.has_position:
            task.append("it gives a personal opinion, which a report on the task should leave out")
    else:
        task.append(
            "a clear position is stated"
            if evidence.has_position
            else "no clear position (such as “I believe …”) is stated"
        )
    if values["has_prompt"]:
        task.append(f"the answer uses {values['prompt_coverage']:.0%} of the question's key words")
        if evidence.prompt_words_missed:
            task.append(f"it never mentions {_list(evidence.prompt_words_missed, 3)}")
        if evidence.copied_from_prompt:
            task.append(f"it copies “{evidence.copied_from_prompt}” from the question")
    else:
        task.append("no question was given, so relevance to it was not checked")

    coherence = [plural(measured.paragraph_count, "paragraph")]
    if evidence.linkers:
        coherence.append(f"linking devices used: {_list(evidence.linkers, 5)}")
    else:
        coherence.append("no linking devices (however, as a result, …) connect the ideas")
    if values["initial_linker_share"] > 0.5:
        coherence.append("more than half the sentences open with a linker, which reads mechanical")

    lexical = []
    if evidence.misspelt:
        lexical.append(f"misspelt: {_list(evidence.misspelt)}")
    else:
        lexical.append("no spelling errors found")
    if evidence.most_repeated and evidence.most_repeated[1] >= 4:
        word, times = evidence.most_repeated
        lexical.append(f"the most repeated word is “{word}” ({times} times)")
    if evidence.rare_words:
        lexical.append(f"less common words: {_list(evidence.rare_words, 3)}")

    grammar = []
    if evidence.grammar:
        shown = "; ".join(f"“{item.quote}” ({item.rule})" for item in evidence.grammar[:3])
        grammar.append(f"likely errors: {shown}")
    else:
        grammar.append("no common error patterns found")
    if evidence.verbless_sentence:
        grammar.append(f"a sentence without a verb: “{_quote(evidence.verbless_sentence)}”")
    grammar.append(
        f"{measured.sentence_count} sentences, {values['complex_share']:.0%} with a "
        "subordinate clause"
    )
    return {
        "task_achievement": "; ".join(task) + ".",
        "coherence_cohesion": "; ".join(coherence) + ".",
        "lexical_resource": "; ".join(lexical) + ".",
        "grammatical_accuracy": "; ".join(grammar) + ".",
    }


def _task_focus(measured: EssayFeatures, task_type: TaskType, on_data: bool) -> str:
    has_overview = measured.evidence.has_overview
    has_position = measured.evidence.has_position
    if task_type is TaskType.TASK_1:
        if has_position:
            return "Report only what the task shows: leave out personal opinions."
        if not has_overview:
            return "Open with an overview sentence stating the main trends before the details."
        if on_data and figures_quoted(measured) < MIN_FIGURES:
            return "Support each main feature with exact figures from the data."
        return "Support the overview with exact figures and direct comparisons."
    if has_position:
        return "Keep to your stated position in every paragraph and restate it at the end."
    return "State your position in the introduction and keep to it in every paragraph."


def _suggestions(
    measured: EssayFeatures,
    task_type: TaskType,
    weakest: str,
    garbage: NotAnEssay | None,
    on_data: bool,
) -> list[str]:
    evidence = measured.evidence
    minimum = MINIMUM_WORDS[task_type]
    if garbage:
        return [
            "Write a complete answer to the task question in your own words.",
            f"Aim for at least {minimum} words in connected sentences and paragraphs.",
            "Send the essay itself, not a list of words, sentences or the question.",
        ]
    by_criterion = {
        "task_achievement": [
            f"Write at least {minimum} words: this answer has {measured.word_count}."
            if measured.word_count < minimum
            else "Develop each main idea with a specific example or figure.",
            _task_focus(measured, task_type, on_data),
            "Address every part of the question; paraphrase its key words rather than copy them.",
        ],
        "coherence_cohesion": [
            "Give each main idea its own paragraph, with a clear topic sentence.",
            "Link ideas with a range of devices (however, as a result, in contrast) and refer "
            "back with this/these/such.",
        ],
        "lexical_resource": [
            f"Check spelling: {', '.join(evidence.misspelt[:3])}."
            if evidence.misspelt
            else "Use more precise, less common words and collocations for the topic.",
            f"Vary your wording: “{evidence.most_repeated[0]}” appears "
            f"{evidence.most_repeated[1]} times."
            if evidence.most_repeated and evidence.most_repeated[1] >= 4
            else "Paraphrase instead of repeating the same words.",
        ],
        "grammatical_accuracy": [
            f"Fix errors like “{evidence.grammar[0].quote}” ({evidence.grammar[0].rule})."
            if evidence.grammar
            else "Proofread for articles, plurals and verb tenses.",
            "Mix simple and complex sentences (relative and conditional clauses); make sure "
            "every sentence has a main verb.",
        ],
    }
    ordered = by_criterion[weakest] + [
        item for name in CRITERIA if name != weakest for item in by_criterion[name][:1]
    ]
    return ordered[:5]
