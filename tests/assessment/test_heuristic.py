"""The heuristic assessor's text measures: one compiled scan finds what a search per phrase does."""

from __future__ import annotations

import random
import re

from bandwise.assessment.heuristic import (
    LINKERS,
    SUBORDINATORS,
    has_subordinate_clause,
    linkers_in,
)
from testkit.load import ESSAY


def _texts() -> list[str]:
    rng = random.Random(11)
    vocabulary = [
        *ESSAY.split(),
        *LINKERS,
        *SUBORDINATORS,
        "whichever",
        "thatch",
        "overalls",
        "thusly",
        "in-addition",
        "While,",
        "HOWEVER",
        "meanwhile.",
        "\n\n",
    ]
    texts = [ESSAY, "", "however", "On the other hand, in addition; whereas"]
    for _ in range(300):
        texts.append(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 120))))
    return texts


def test_no_linker_is_a_prefix_of_another() -> None:
    # The single lookahead scan finds one linker per word start; this makes it find them all.
    assert not [(a, b) for a in LINKERS for b in LINKERS if a != b and b.startswith(a)]


def test_measures_match_a_search_per_phrase() -> None:
    for text in _texts():
        lowered = text.lower()
        expected = sorted(linker for linker in LINKERS if re.search(rf"\b{linker}\b", lowered))
        assert linkers_in(lowered) == expected, text
        subordinate = any(re.search(rf"\b{word}\b", lowered) for word in SUBORDINATORS)
        assert has_subordinate_clause(text) is subordinate, text
