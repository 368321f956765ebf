"""Recognise texts that are not an essay at all, whatever the fitted model would say.

The model learnt from real candidates' essays; it never saw a word salad, one word typed 300
times, the question pasted back or a list of unrelated sentences, and may score them like
essays. Each rule below names what it found; thresholds sit well outside every training
essay (the tests hold both sides).
"""

from __future__ import annotations

from dataclasses import dataclass

from bandwise.assessment.features import EssayFeatures

MAX_GARBAGE_BAND = 4.0
# Training essays stay below 2.6; 299 of 300 of them shuffled score above 2.7.
MAX_WORD_DISORDER = 3.0


def word_disorder(measured: EssayFeatures) -> float:
    """Return how far the word order is from English, each sign scaled by its 99th percentile
    in human essays: impossible word pairs, capitals mid-sentence, lower-case sentence starts.
    """
    values = measured.values
    return (
        values["implausible_rate"] / 2.3
        + values["misplaced_capitals"] / 2.2
        + values["lowercase_starts"] / 0.45
    )


@dataclass(frozen=True)
class NotAnEssay:
    """Why a text is scored as garbage, and the highest band it may get."""

    reason: str
    ceiling: float


def not_an_essay(measured: EssayFeatures) -> NotAnEssay | None:
    """Return why ``measured`` is not a real essay, or None when it reads as one."""
    values = measured.values
    evidence = measured.evidence
    if values["moving_ttr"] < 0.3 or values["top_word_share"] > 0.35:
        word, times = evidence.most_repeated or ("", 0)
        shown = f"“{word}” {times} times" if word else "the same few words over and over"
        return NotAnEssay(f"the text repeats {shown} instead of developing ideas", 1.0)
    if values["spelling_rate"] > 0.3:
        return NotAnEssay(f"{values['spelling_rate']:.0%} of the words are not English words", 1.0)
    if values["has_prompt"] and (values["copied_share"] > 0.5):
        return NotAnEssay(
            f"{values['copied_share']:.0%} of the text is copied from the question", 2.0
        )
    if word_disorder(measured) > MAX_WORD_DISORDER:
        return NotAnEssay(
            "the words do not form sentences (their order is not English word order)", 2.0
        )
    if (
        measured.sentence_count >= 5
        and values["adjacent_overlap"] < 0.25
        and values["distinct_linkers"] <= 1
        and values["mean_sentence_length"] < 14
        and (not values["has_prompt"] or values["on_topic_share"] < 0.05)
    ):
        return NotAnEssay(
            "the sentences are unconnected: none shares an idea with the next, and nothing "
            "links them",
            3.5,
        )
    return None
