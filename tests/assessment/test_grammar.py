"""Each grammar rule fires on its error and stays quiet on the correct twin."""

from __future__ import annotations

import pytest

from bandwise.assessment.grammar import grammar_findings, sentence_has_verb
from bandwise.assessment.text_stats import words


@pytest.mark.parametrize(
    ("rule", "wrong", "right"),
    [
        ("subject–verb agreement", "Many people is unhappy.", "Many people are unhappy."),
        ("subject–verb agreement", "There is many reasons.", "There are many reasons."),
        ("article before the wrong sound", "It is a important idea.", "It is an important idea."),
        ("article before the wrong sound", "She has an car.", "She has a university car."),
        ("uncountable noun made plural", "They gave informations.", "They gave information."),
        ("verb form after a modal", "We should to study.", "We should study."),
        ("verb form after a modal", "Prices will rose.", "Prices will rise."),
        ("verb form after do/does/did", "It did not changed.", "It did not change."),
        ("tense of a trend verb", "Sales was increase.", "Sales increased."),
        ("double comparative", "It is more better.", "It is better."),
        ("quantifier with the wrong noun", "There are much people.", "There are many people."),
        ("'most of' without 'the'", "Most of people agree.", "Most of the people agree."),
        ("lower-case 'i' as a pronoun", "Then i think so.", "Then I think so."),
        ("word written twice", "It is the the best.", "It is the best."),
        ("no space after a comma", "cars,buses and trains", "cars, buses and trains"),
        ("space before punctuation", "cars , buses", "cars, buses"),
    ],
)
def test_rule_fires_on_the_error_only(rule: str, wrong: str, right: str) -> None:
    assert rule in {finding.rule for finding in grammar_findings(wrong)}
    assert rule not in {finding.rule for finding in grammar_findings(right)}


def test_the_finding_quotes_the_words() -> None:
    (finding,) = grammar_findings("Many people is unhappy.")
    assert finding.quote == "people is"


@pytest.mark.parametrize(
    ("sentence", "has_verb"),
    [
        ("The chart shows three trends.", True),
        ("Prices rose sharply after 2010.", True),
        ("It depicts the sales.", True),
        ("Firstly, the role of the university in society.", False),
        ("The number of cars in the city centre.", False),
    ],
)
def test_sentence_has_verb(sentence: str, has_verb: bool) -> None:
    assert sentence_has_verb([word.lower() for word in words(sentence)]) is has_verb
