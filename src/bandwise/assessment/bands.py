"""IELTS band arithmetic in Decimal: half-band validation and the overall-band rounding rule."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

HALF = Decimal("0.5")
MIN_BAND = Decimal(0)
MAX_BAND = Decimal(9)


def parse_band(value: Any) -> Decimal:
    """Return ``value`` as a Decimal band, or raise ValueError unless it is 0–9 in half steps."""
    if isinstance(value, bool):
        raise ValueError(f"not a band: {value!r}")
    try:
        band = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a band: {value!r}") from exc
    if not band.is_finite() or not MIN_BAND <= band <= MAX_BAND:
        raise ValueError(f"band {value!r} is outside 0–9")
    if (band * 2) % 1 != 0:
        raise ValueError(f"band {value!r} is not a whole or half band")
    return band.quantize(Decimal("0.1"))


def overall_band(*criteria: Decimal) -> Decimal:
    """Return the overall band: the mean rounded to the nearest half band, halves rounding up.

    IELTS rounds an average ending in .25 up to .5 and one ending in .75 up to the next whole
    band (6.125 → 6.0, 6.25 → 6.5, 6.75 → 7.0). Python's round() rounds half to even and works
    on binary floats, which gets this wrong for 1 in 8 combinations.
    """
    if not criteria:
        raise ValueError("overall_band needs at least one criterion")
    mean = sum(criteria, Decimal(0)) / Decimal(len(criteria))
    doubled = mean * 2
    # Round half up on the doubled value: x.5 steps become the nearest half band, ties upwards.
    rounded = (doubled + HALF).to_integral_value(rounding=ROUND_FLOOR) / 2
    return Decimal(rounded).quantize(Decimal("0.1"))


def band(value: Decimal | None) -> str:
    """Render a band as 6.5 (or — when missing)."""
    return "—" if value is None else f"{value:.1f}"


def likely_band(overall: Decimal | None, low: Decimal | None, high: Decimal | None) -> str:
    """Render a band with its likely range, "6.5 (likely 6.0–7.0)" (no range: just "6.5")."""
    if overall is None or low is None or high is None:
        return band(overall)
    return f"{band(overall)} (likely {band(low)}–{band(high)})"
