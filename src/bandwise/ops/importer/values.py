"""The careful path's value conversion: one legacy value in, its exact target value out.

Each change made on the way (a respelled date, a removed NUL byte, legacy text turned into a
list) is noted on the row's :class:`RowState`; a value that cannot be converted raises
:class:`Bad` naming why. Reporting the notes and problems is the row accounting's job
(``convert``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from bandwise.legacy import values as legacy
from bandwise.ops.importer.canonical import Kind, jsonb_text
from bandwise.ops.importer.report import BadValue
from bandwise.ops.importer.tables import ColumnSpec
from bandwise.wording import plural

_CANONICAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")


class ReplacedText(str):
    """Text decoded from invalid UTF-8 with replacement characters (reported as such)."""

    __slots__ = ()


def decode_text(raw: bytes) -> str:
    """Decode SQLite text as UTF-8; invalid bytes become U+FFFD in a :class:`ReplacedText`."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return ReplacedText(raw.decode("utf-8", errors="replace"))


class Bad(Exception):
    """One column of one row cannot be converted."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class Note(NamedTuple):
    """One change made to a value of a row (reported once the row is known to be imported)."""

    column: str
    kind: str
    detail: str


@dataclass
class RowState:
    """Changes and problems met while converting one row."""

    table: str
    source_id: Any
    changed: bool = False
    problems: list[BadValue] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def note(self, column: str, kind: str, detail: str = "") -> None:
        """Note one transformation of a value of the row."""
        self.changed = True
        self.notes.append(Note(column, kind, detail))


def convert_value(state: RowState, spec: ColumnSpec, value: Any, *, strict: bool) -> Any:
    """Return the target value of one legacy value (raise :class:`Bad` when impossible).

    ``strict``: refuse (rather than repair) NUL bytes and invalid UTF-8.
    """
    if value is None:
        if spec.nullable:
            return None
        raise Bad("missing_value", "NULL in a required column")
    try:
        return _BY_KIND[spec.kind](state, spec, value, strict)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise Bad("unconvertible", str(exc)) from exc


def _text(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> str:
    if isinstance(value, bytes):
        value = decode_text(value)
    elif not isinstance(value, str):
        state.note(spec.name, "number_as_text")
        value = str(value)
    if type(value) is ReplacedText:
        if strict:
            raise Bad("invalid_utf8", "invalid UTF-8 (--strict)")
        state.note(spec.name, "utf8_replaced", "invalid UTF-8 bytes → U+FFFD")
        value = str(value)
    if "\x00" in value:
        if strict:
            raise Bad("nul_byte", "NUL byte in text (--strict)")
        state.note(spec.name, "nul_removed", f"{plural(value.count(chr(0)), 'NUL byte')} removed")
        value = value.replace("\x00", "")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise Bad("too_long", f"longer than {spec.max_length} characters ({len(value)})")
    return str(value)


def _datetime(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> datetime:
    if isinstance(value, str) and _CANONICAL_DATETIME.match(value):
        return legacy.parse_datetime(value)
    parsed = legacy.parse_datetime(value)
    kind = "epoch_to_datetime" if isinstance(value, int | float) else "datetime_respelled"
    state.note(spec.name, kind)
    return parsed


def _json(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> str:
    text = _text(state, spec, value, strict)
    if not spec.text_as_list:  # a bandwise JSON document: moved as it is
        document = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
        if "\\u" in text:
            document = _clean_json(state, spec, document, strict)
        return jsonb_text(document)
    suggestions, converted = legacy.parse_suggestions_exact(text)
    if converted:
        state.note(spec.name, "suggestions_text_to_list", "legacy text kept as a one-element list")
    if "\\u" in text:
        suggestions = _clean_json(state, spec, suggestions, strict)
    return jsonb_text(suggestions)


def _clean_json(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> Any:
    if isinstance(value, str):
        cleaned = value
        if "\x00" in cleaned:
            if strict:
                raise Bad("nul_byte", "NUL escape in JSON (--strict)")
            state.note(spec.name, "nul_removed", "\\u0000 removed from JSON text")
            cleaned = cleaned.replace("\x00", "")
        try:
            cleaned.encode("utf-8")
        except UnicodeEncodeError:
            if strict:
                raise Bad("invalid_utf8", "lone surrogate escape in JSON (--strict)") from None
            state.note(spec.name, "utf8_replaced", "lone surrogate → U+FFFD")
            cleaned = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in cleaned)
        return cleaned
    if isinstance(value, list):
        return [_clean_json(state, spec, item, strict) for item in value]
    if isinstance(value, dict):
        return {
            _clean_json(state, spec, key, strict): _clean_json(state, spec, item, strict)
            for key, item in value.items()
        }
    return value


def _int(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> int:
    parsed = legacy.parse_int(value)
    if not isinstance(value, int):
        state.note(spec.name, "int_from_text")
    low, high = spec.int_range
    if not low <= parsed <= high:
        raise Bad("unconvertible", f"integer out of {spec.bits}-bit range")
    return parsed


def _bool(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> bool:
    parsed = legacy.parse_bool(value)
    if not (isinstance(value, int) and value in (0, 1)):
        state.note(spec.name, "bool_from_text")
    return parsed


def _enum(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> str:
    assert spec.enum is not None
    member = legacy.parse_enum(spec.enum, value)
    if value != member.name:
        state.note(spec.name, "enum_respelled")
    return str(member.value)


def _date(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> date:
    parsed = legacy.parse_date(value)
    if not (isinstance(value, str) and len(value) == 10):
        state.note(spec.name, "date_respelled")
    return parsed


def _band(state: RowState, spec: ColumnSpec, value: Any, strict: bool) -> Decimal:
    if isinstance(value, str):
        state.note(spec.name, "band_from_text")
    return legacy.parse_band(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value PostgreSQL accepts")


# Each takes (row state, column, legacy value, strict) and returns the target value.
_BY_KIND: dict[Kind, Callable[[RowState, ColumnSpec, Any, bool], Any]] = {
    "text": _text,
    "ts": _datetime,
    "int": _int,
    "bool": _bool,
    "enum": _enum,
    "date": _date,
    "band": _band,
    "json": _json,
}
