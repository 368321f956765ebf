"""What the bot checks before scoring: length against the task, language, likely task."""

from __future__ import annotations

from dataclasses import dataclass

from bandwise.assessment.language import LanguageGuess, detect_language
from bandwise.assessment.task_type import TaskGuess, detect_task_type
from bandwise.assessment.text_stats import word_count
from bandwise.models import TaskType
from bandwise.services.submissions import MIN_WORDS

MAX_REASONABLE_WORDS = 1000
MIN_WORDS_FOR_LANGUAGE = 10  # fewer words are too little evidence for the detector
TASK_MINIMUM_WORDS = {TaskType.TASK_1: 150, TaskType.TASK_2: 250}


@dataclass(frozen=True)
class EssayPrecheck:
    """The measurements behind the bot's validation messages."""

    word_count: int
    language: LanguageGuess
    task_guess: TaskGuess

    @property
    def too_short(self) -> bool:
        """Tell whether the text is too short to be assessed at all."""
        return self.word_count < MIN_WORDS

    @property
    def too_long(self) -> bool:
        """Tell whether the text is far beyond what IELTS candidates write."""
        return self.word_count > MAX_REASONABLE_WORDS

    @property
    def not_english(self) -> bool:
        """Tell whether the text is clearly in another language (too little text: no verdict)."""
        return self.language.clearly_other

    def under_task_minimum(self, task_type: TaskType) -> bool:
        """Tell whether the essay is shorter than the task asks (it lowers Task Achievement)."""
        return self.word_count < TASK_MINIMUM_WORDS[task_type]


def precheck_essay(text: str) -> EssayPrecheck:
    """Measure ``text`` for the bot's validation rules (language only with enough words)."""
    count = word_count(text)
    judged = count >= MIN_WORDS_FOR_LANGUAGE
    language = detect_language(text) if judged else LanguageGuess("unknown", 0.0)
    return EssayPrecheck(count, language, detect_task_type(text))
