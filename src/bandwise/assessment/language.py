"""Tell whether an essay is written in English, offline and repeatably."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ENGLISH = "en"
MIN_ENGLISH_PROBABILITY = 0.7


@lru_cache(maxsize=1)
def _detector_factory() -> Any:
    # langdetect ships its language profiles in the wheel; seeding makes results repeatable.
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0
    return DetectorFactory


@dataclass(frozen=True)
class LanguageGuess:
    """The most likely language of a text and how sure the detector is."""

    language: str
    probability: float

    @property
    def clearly_other(self) -> bool:
        """Tell whether the text is clearly in another language (no verdict: not other)."""
        return self.language != "unknown" and not self.is_english

    @property
    def is_english(self) -> bool:
        """Tell whether the text is English with enough confidence."""
        return self.language == ENGLISH and self.probability >= MIN_ENGLISH_PROBABILITY


def detect_language(text: str) -> LanguageGuess:
    """Return the most likely language of ``text`` (``unknown`` when there is nothing to judge)."""
    _detector_factory()
    from langdetect import detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    try:
        candidates = detect_langs(text)
    except LangDetectException:
        return LanguageGuess("unknown", 0.0)
    best = candidates[0]
    return LanguageGuess(str(best.lang), float(best.prob))


def is_english(text: str) -> bool:
    """Tell whether ``text`` is written in English."""
    return detect_language(text).is_english
