"""The offline heuristic assessor: deterministic, needs no key, used as the LLM's fallback.

It measures what can be measured without a language model — length against the task minimum,
paragraphing, lexical diversity, the share of less common words, linking devices, sentence
variety and spelling — and maps each measure onto a band with fixed thresholds. The same essay
always gets the same result.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from bandwise.assessment.bands import parse_band
from bandwise.assessment.text_stats import paragraphs, sentences, words
from bandwise.assessment.types import AssessmentResult, CriterionScore
from bandwise.models import TaskType
from bandwise.wording import plural

MINIMUM_WORDS = {TaskType.TASK_1: 150, TaskType.TASK_2: 250}
LINKERS = (
    "however",
    "moreover",
    "furthermore",
    "in addition",
    "therefore",
    "consequently",
    "as a result",
    "on the other hand",
    "for example",
    "for instance",
    "in contrast",
    "nevertheless",
    "although",
    "whereas",
    "while",
    "firstly",
    "secondly",
    "finally",
    "in conclusion",
    "overall",
    "similarly",
    "meanwhile",
    "thus",
    "hence",
    "because",
    "since",
    "despite",
    "in summary",
    "to sum up",
    "additionally",
)
SUBORDINATORS = ("which", "that", "who", "when", "if", "because", "although", "while", "whereas")
# Compiled once, and one scan instead of a search per phrase: scoring runs per essay on the
# request path. The lookahead finds every linker at every word start; no linker is a prefix of
# another, so at most one can match at a given start and none is missed.
LINKER_PATTERN = re.compile(rf"\b(?=({'|'.join(LINKERS)})\b)")
SUBORDINATOR_PATTERN = re.compile(rf"\b(?:{'|'.join(SUBORDINATORS)})\b")


def linkers_in(lowered: str) -> list[str]:
    """Return the linking devices that occur in ``lowered`` (lower-case text), sorted."""
    return sorted(set(LINKER_PATTERN.findall(lowered)))


def has_subordinate_clause(sentence: str) -> bool:
    """Tell whether ``sentence`` contains a subordinating word."""
    return SUBORDINATOR_PATTERN.search(sentence.lower()) is not None


@lru_cache(maxsize=1)
def _speller() -> object:
    from spellchecker import SpellChecker  # ships its English word list: nothing downloads

    return SpellChecker(language="en", distance=1)


def _band(value: float) -> Decimal:
    clamped = min(9.0, max(1.0, value))
    return parse_band(round(clamped * 2) / 2)


def _quote(text: str, limit: int = 80) -> str:
    found = sentences(text)
    first = found[0] if found else text
    first = first.strip()
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


class HeuristicAssessor:
    """Score essays with fixed, explainable text measures (no network, deterministic)."""

    name = "heuristic"

    async def assess(self, text: str, task_type: TaskType) -> AssessmentResult:
        """Score ``text`` as an IELTS ``task_type`` essay."""
        return self.assess_sync(text, task_type)

    def assess_sync(self, text: str, task_type: TaskType) -> AssessmentResult:
        """Score ``text`` synchronously (the measures are CPU-only)."""
        tokens = [word.lower() for word in words(text)]
        count = len(tokens)
        minimum = MINIMUM_WORDS[task_type]
        alpha = [token for token in tokens if token.isalpha()]
        unique_ratio = len(set(alpha)) / max(1, len(alpha))
        speller = _speller()
        known = speller.known(set(alpha))  # type: ignore[attr-defined]
        misspelled = sorted({token for token in alpha if token not in known and len(token) > 2})
        spelling_rate = len(misspelled) / max(1, len(alpha))
        frequency = speller.word_frequency  # type: ignore[attr-defined]
        rare = [token for token in set(alpha) if token in known and frequency[token] < 5000]
        rare_share = len(rare) / max(1, len(set(alpha)))
        lowered = text.lower()
        linkers_used = linkers_in(lowered)
        sentence_list = sentences(text)
        lengths = [len(words(sentence)) for sentence in sentence_list] or [0]
        mean_length = sum(lengths) / len(lengths)
        spread = (sum((n - mean_length) ** 2 for n in lengths) / len(lengths)) ** 0.5
        complex_share = sum(
            1 for sentence in sentence_list if has_subordinate_clause(sentence)
        ) / max(1, len(sentence_list))
        paragraph_count = len(paragraphs(text))
        expected_paragraphs = 4 if task_type is TaskType.TASK_2 else 3

        length_ratio = count / minimum
        task = (
            4.0
            + 3.0 * min(1.0, length_ratio)
            + (1.0 if paragraph_count >= expected_paragraphs else 0.0)
        )
        if task_type is TaskType.TASK_1 and re.search(r"\boverall\b", lowered):
            task += 1.0
        if task_type is TaskType.TASK_2 and re.search(
            r"\b(i believe|in my (opinion|view)|i (agree|disagree))\b", lowered
        ):
            task += 1.0
        if length_ratio < 0.8:
            task -= 1.5
        coherence = 4.0 + min(3.0, len(linkers_used) * 0.5) + min(2.0, paragraph_count * 0.5)
        lexical = (
            3.5 + unique_ratio * 4.0 + min(2.0, rare_share * 10.0) - min(2.0, spelling_rate * 20.0)
        )
        grammar = (
            4.0
            + min(2.0, complex_share * 3.0)
            + min(1.5, spread / 4.0)
            + (1.0 if 12 <= mean_length <= 25 else 0.0)
            - min(2.0, spelling_rate * 10.0)
        )

        quote = _quote(text)
        criteria = {
            "task_achievement": CriterionScore(
                _band(task),
                (
                    f"{count} words against the {minimum}-word minimum, "
                    f"{plural(paragraph_count, 'paragraph')}; "
                    f"the response opens with “{quote}”."
                ),
            ),
            "coherence_cohesion": CriterionScore(
                _band(coherence),
                (
                    f"{len(linkers_used)} different linking devices"
                    + (f" ({', '.join(linkers_used[:5])})" if linkers_used else "")
                    + f" across {plural(paragraph_count, 'paragraph')}."
                ),
            ),
            "lexical_resource": CriterionScore(
                _band(lexical),
                (
                    f"{unique_ratio:.0%} of words are distinct, {rare_share:.0%} are less common; "
                    f"{plural(len(misspelled), 'possible misspelling')}"
                    + (f" such as “{misspelled[0]}”." if misspelled else ".")
                ),
            ),
            "grammatical_accuracy": CriterionScore(
                _band(grammar),
                (
                    f"{plural(len(sentence_list), 'sentence')} averaging {mean_length:.0f} words; "
                    f"{complex_share:.0%} use subordinate clauses."
                ),
            ),
        }
        suggestions = self._suggestions(
            task_type,
            count,
            minimum,
            paragraph_count,
            expected_paragraphs,
            linkers_used,
            misspelled,
            unique_ratio,
            complex_share,
        )
        feedback = (
            "Scored by the offline heuristic assessor (no language model): "
            f"{plural(count, 'word')}, {plural(paragraph_count, 'paragraph')}, "
            f"{plural(len(sentence_list), 'sentence')}."
        )
        return AssessmentResult(
            criteria=criteria, feedback=feedback, suggestions=suggestions, assessor=self.name
        )

    @staticmethod
    def _suggestions(
        task_type: TaskType,
        count: int,
        minimum: int,
        paragraph_count: int,
        expected_paragraphs: int,
        linkers: list[str],
        misspelled: list[str],
        unique_ratio: float,
        complex_share: float,
    ) -> list[str]:
        advice: list[str] = []
        if count < minimum:
            advice.append(
                f"Write at least {minimum} words: this response has {count}, which "
                "lowers the Task Achievement band."
            )
        if paragraph_count < expected_paragraphs:
            advice.append(
                f"Organise the answer into {expected_paragraphs} or more paragraphs "
                "with one main idea each."
            )
        if task_type is TaskType.TASK_1:
            advice.append(
                "Begin with an overview sentence that states the main trends before "
                "giving the details."
            )
        else:
            advice.append(
                "State your position clearly in the introduction and support each "
                "body paragraph with a specific example."
            )
        if len(linkers) < 4:
            advice.append(
                "Use a wider range of linking words (however, as a result, in contrast) "
                "to connect ideas."
            )
        if misspelled:
            advice.append(f"Check spelling: {', '.join(misspelled[:3])}.")
        if unique_ratio < 0.5:
            advice.append("Avoid repeating the same words; use synonyms and paraphrase the task.")
        if complex_share < 0.3:
            advice.append(
                "Combine short sentences with relative or conditional clauses to show "
                "grammatical range."
            )
        advice.append("Leave a few minutes to proofread for articles, plurals and verb tenses.")
        return advice[:5] if len(advice) >= 3 else [*advice, "Practise with timed essays."]
