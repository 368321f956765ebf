"""Parse the legacy bot's loosely typed values into exact Python values.

SQLite stored whatever the old code (or a hand-made row) gave it. Every function here either
returns the exact value or raises ``ValueError`` with a message naming the value.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from typing import Any, TypeVar

from bandwise.models.enums import ProcessingStatus, TaskType

E = TypeVar("E", bound=Enum)

_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(value: Any) -> datetime:
    """Return an aware UTC datetime from any legacy spelling (naive means UTC).

    Accepts 'YYYY-MM-DD HH:MM:SS.ffffff', without fraction, with 'T', with milliseconds,
    with an offset or 'Z', integer/float epochs (seconds, or milliseconds when huge).
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, bool):
        raise ValueError(f"not a datetime: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
        if abs(seconds) > 1e11:  # milliseconds since the epoch
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"epoch out of range: {value!r}") from exc
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise ValueError(f"not a datetime: {value!r}")
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return parse_datetime(float(text) if "." in text else int(text))
    match = _DATETIME.match(text)
    if not match:
        raise ValueError(f"not a datetime: {value!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise ValueError(f"impossible datetime {value!r}: {exc}") from exc
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        parsed -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return parsed


def format_sqlite_datetime(value: datetime) -> str:
    """Return the canonical SQLite text of an aware datetime: naive UTC with microseconds."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def parse_date(value: Any) -> date:
    """Return a date from 'YYYY-MM-DD', a datetime spelling, or an epoch."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"impossible date {value!r}: {exc}") from exc
    return parse_datetime(value).date()


def parse_bool(value: Any) -> bool:
    """Return a bool from 0/1, 'true'/'false', 't'/'f', 'yes'/'no'."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "t", "yes", "y"):
            return True
        if lowered in ("0", "false", "f", "no", "n"):
            return False
    raise ValueError(f"not a boolean: {value!r}")


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*")


def _is_integral(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and _INTEGER_TEXT.fullmatch(value) is not None


def parse_int(value: Any) -> int:
    """Return a 64-bit integer from an int, an integral float or digits in text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        result = value
    elif _is_integral(value):
        result = int(value)
    else:
        raise ValueError(f"not an integer: {value!r}")
    if not INT64_MIN <= result <= INT64_MAX:
        raise ValueError(f"integer out of 64-bit range: {value!r}")
    return result


def parse_task_type(value: Any) -> TaskType:
    """Return the TaskType for a member name or value in any case ('TASK_2', 'task_1')."""
    return parse_enum(TaskType, value)


def parse_processing_status(value: Any) -> ProcessingStatus:
    """Return the ProcessingStatus for a name or value in any case ('PENDING', 'completed')."""
    return parse_enum(ProcessingStatus, value)


def parse_enum(enum_class: type[E], value: Any) -> E:
    """Return the member of ``enum_class`` for a member name or value in any case."""
    if isinstance(value, str):
        normalised = value.strip().lower()
        for member in enum_class:
            if normalised in (member.value, member.name.lower()):
                return member
    allowed = ", ".join(str(member.value) for member in enum_class)
    raise ValueError(f"not a {enum_class.__name__} ({allowed}): {value!r}")


def count_words(text: Any) -> int:
    """Return the word count the legacy bot stored for an essay (0 without a text)."""
    return len(str(text).split()) if text is not None else 0


def parse_suggestions(value: Any) -> tuple[list[Any], bool]:
    """Return (suggestion list, converted?) from JSON array text or legacy plain text."""
    if isinstance(value, list):
        return value, False
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if value is None:
        return [], True
    text = str(value)
    try:
        parsed = json.loads(text)
    except ValueError:
        return ([text] if text.strip() else []), True
    if isinstance(parsed, list):
        return parsed, False
    return [parsed], True


_CENT = Decimal("0.01")
# The range of every band (the models' check constraints say the same).
BAND_MIN, BAND_MAX = 0, 9


def parse_band(value: Any) -> Decimal:
    """Return a band as an exact NUMERIC(4, 2) value: 0–9 with at most two decimals."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a band score: {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError as exc:
        raise ValueError(f"not a band score: {value!r}") from exc
    if not number.is_finite() or number != number.quantize(_CENT, rounding=ROUND_HALF_EVEN):
        raise ValueError(f"band not exact to two decimals: {value!r}")
    if not BAND_MIN <= number <= BAND_MAX:
        raise ValueError(f"band outside 0–9: {value!r}")
    return number.quantize(_CENT)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_suggestions_exact(value: Any) -> tuple[list[Any], bool]:
    """Return (suggestion list, converted?) keeping JSON numbers exact (as Decimal).

    Like :func:`parse_suggestions`, but numbers are ``Decimal`` (PostgreSQL's jsonb keeps them
    exactly) and ``NaN``/``Infinity`` (not JSON) make the text a legacy plain-text suggestion.
    """
    if isinstance(value, list):
        return value, False
    if value is None:
        return [], True
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    try:
        parsed = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError:
        return ([text] if text.strip() else []), True
    if isinstance(parsed, list):
        return parsed, False
    return [parsed], True
