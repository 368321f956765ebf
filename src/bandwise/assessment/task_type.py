"""Tell Task 1 (describing a chart, process or map) from Task 2 (an argued opinion)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bandwise.models import TaskType

TASK1_CUES = (
    "the graph",
    "the chart",
    "the table",
    "the diagram",
    "the map",
    "the maps",
    "bar chart",
    "line graph",
    "pie chart",
    "the figure",
    "the process",
    "illustrates",
    "the data",
    "percentage",
    "per cent",
    "percent",
    "proportion",
    "increased",
    "decreased",
    "rose",
    "fell",
    "peaked",
    "declined",
    "fluctuated",
    "overall,",
    "in comparison",
    "the figures",
    "the number of",
    "stages",
    "shows",
    "compares",
    "million",
    "between 19",
    "between 20",
)
TASK2_CUES = (
    "i believe",
    "in my opinion",
    "i agree",
    "i disagree",
    "in conclusion",
    "on the other hand",
    "some people",
    "others believe",
    "advantages",
    "disadvantages",
    "should",
    "to what extent",
    "i think",
    "this essay",
    "it is argued",
    "in my view",
    "firstly",
    "secondly",
    "society",
    "government",
    "people",
    "outweigh",
    "benefit",
    "problem",
    "solution",
)


@dataclass(frozen=True)
class TaskGuess:
    """The likely task and whether the evidence is clear enough not to ask."""

    task_type: TaskType
    confident: bool
    task1_score: int
    task2_score: int


def _hits(text: str, cues: tuple[str, ...]) -> int:
    return sum(len(re.findall(re.escape(cue), text)) for cue in cues)


def detect_task_type(text: str) -> TaskGuess:
    """Guess the task from cue phrases and numbers; ``confident`` when one side clearly wins."""
    lowered = text.lower()
    task1 = _hits(lowered, TASK1_CUES) + len(re.findall(r"\d+(?:\.\d+)?\s*%", lowered))
    task2 = _hits(lowered, TASK2_CUES)
    guess = TaskType.TASK_1 if task1 > task2 else TaskType.TASK_2
    margin = abs(task1 - task2)
    confident = margin >= 3 and max(task1, task2) >= 2 * max(1, min(task1, task2))
    return TaskGuess(guess, confident, task1, task2)
