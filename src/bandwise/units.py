"""Render amounts for people: byte sizes in binary units."""

from __future__ import annotations

BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_bytes(amount: int | float) -> str:
    """Return ``amount`` bytes in the largest unit that keeps it ≥ 1: ``22 KiB``, ``1.5 MiB``."""
    value = float(amount)
    for unit in BYTE_UNITS:
        if abs(value) < 1024 or unit == BYTE_UNITS[-1]:
            if unit == "B" or abs(value) >= 10:
                return f"{value:.0f} {unit}"
            return f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
