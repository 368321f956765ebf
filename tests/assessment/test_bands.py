"""The overall-band rounding rule over every combination of four half-band scores."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import pytest

from bandwise.assessment.bands import overall_band, parse_band

HALF_BANDS = [Fraction(step, 2) for step in range(19)]  # 0, 0.5, …, 9


def reference_overall(scores: tuple[Fraction, ...]) -> Fraction:
    """Round the exact mean to the nearest half band, ties (.25, .75) upwards."""
    mean = sum(scores, Fraction(0)) / len(scores)
    doubled = mean * 2
    whole = doubled.numerator // doubled.denominator
    remainder = doubled - whole
    return Fraction(whole + (1 if remainder >= Fraction(1, 2) else 0), 2)


@pytest.mark.slow  # 130,321 combinations
def test_rounding_matches_reference_for_all_combinations() -> None:
    """All 19^4 combinations of half bands 0–9 (which include the 10^4 whole-band ones)."""
    mismatches = []
    for scores in itertools.product(HALF_BANDS, repeat=4):
        expected = reference_overall(scores)
        got = overall_band(
            *(Decimal(score.numerator) / Decimal(score.denominator) for score in scores)
        )
        if Fraction(got) != expected:
            mismatches.append((scores, got, expected))
    assert mismatches == []


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        (("6", "6", "6", "6.5"), "6.0"),  # 6.125 → 6.0
        (("6", "6", "6.5", "6.5"), "6.5"),  # 6.25 → 6.5
        (("6.5", "6.5", "6.5", "7"), "6.5"),  # 6.625 → 6.5
        (("6.5", "6.5", "7", "7"), "7.0"),  # 6.75 → 7.0
    ],
)
def test_quarter_marks_round_upwards(scores: tuple[str, ...], expected: str) -> None:
    assert overall_band(*(Decimal(score) for score in scores)) == Decimal(expected)


@pytest.mark.slow  # 130,321 combinations
def test_plain_round_would_be_wrong_for_one_in_eight() -> None:
    wrong = sum(
        1
        for scores in itertools.product(HALF_BANDS, repeat=4)
        if Fraction(round(float(sum(scores)) / 4 * 2) / 2) != reference_overall(scores)
    )
    assert wrong / 19**4 == pytest.approx(1 / 8, abs=0.01)


@pytest.mark.parametrize("value", ["9.5", "-0.5", "6.25", "x", True, "nan"])
def test_parse_band_refuses_non_bands(value: object) -> None:
    with pytest.raises(ValueError):
        parse_band(value)
