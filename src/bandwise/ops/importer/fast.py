"""The fast path of conversion: rows already in the legacy bot's canonical spellings.

Most legacy rows hold exactly what the old bot wrote ('YYYY-MM-DD HH:MM:SS.ffffff', 0/1,
'TASK_2', JSON arrays). Such a row needs no note in the report, so it is converted here with
C-level parsers and no bookkeeping. Anything else — an odd spelling, a NUL byte, a bad value,
an orphan — raises :class:`NeedsCareful` and the row goes through :class:`Converter`'s careful
path, which records every change and problem. Both paths give identical values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from bandwise.legacy import values as legacy
from bandwise.legacy.schema import LEGACY_ONLY_USER_COLUMNS
from bandwise.ops.importer.canonical import jsonb_text
from bandwise.ops.importer.ratelimits import COUNTER_MAX
from bandwise.ops.importer.tables import MISSING, ColumnSpec, TableSpec


class NeedsCareful(Exception):
    """The row is not in canonical legacy form: convert it on the careful path."""


def _reject(name: str) -> Any:
    raise NeedsCareful(name)


def _int(column: ColumnSpec) -> Callable[[Any], int]:
    low, high = column.int_range

    def convert(value: Any) -> int:
        if type(value) is int and low <= value <= high:
            return value
        raise NeedsCareful

    return convert


def _text(column: ColumnSpec) -> Callable[[Any], str | None]:
    limit = column.max_length
    nullable = column.nullable

    def convert(value: Any) -> str | None:
        if type(value) is str and "\x00" not in value and (limit is None or len(value) <= limit):
            return value
        if value is None and nullable:
            return None
        raise NeedsCareful

    return convert


def _timestamp(column: ColumnSpec) -> Callable[[Any], datetime | None]:
    nullable = column.nullable

    def convert(value: Any) -> datetime | None:
        if type(value) is str and len(value) == 26 and value[10] == " " and value[19] == ".":
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
        elif value is None and nullable:
            return None
        raise NeedsCareful

    return convert


def _bool(value: Any) -> bool:
    if type(value) is int and (value == 0 or value == 1):
        return value == 1
    raise NeedsCareful


def _date(value: Any) -> date:
    if type(value) is str and len(value) == 10:
        return date.fromisoformat(value)
    raise NeedsCareful


def _enum(column: ColumnSpec) -> Callable[[Any], str]:
    names = column.enum_names

    def convert(value: Any) -> str:
        return names[value]

    return convert


def _band() -> Callable[[Any], Decimal]:
    known: dict[float, Decimal] = {}  # at most 901 exact bands

    def convert(value: Any) -> Decimal:
        band = known.get(value) if type(value) is float or type(value) is int else None
        if band is None:
            if type(value) is not float and type(value) is not int:
                raise NeedsCareful
            band = legacy.parse_band(value)
            known[value] = band
        return band

    return convert


_DECODE_JSON = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject).decode
# For a list of strings, the C encoder writes exactly what jsonb_text does (and PostgreSQL's
# jsonb output): ", " between items, the same escapes, non-ASCII characters kept as they are.
_ENCODE_STRINGS = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def _suggestions(value: Any) -> str:
    if type(value) is str and "\x00" not in value and "\\u" not in value:
        parsed = _DECODE_JSON(value)
        if type(parsed) is list:
            if all(type(item) is str for item in parsed):
                return _ENCODE_STRINGS(parsed)
            return jsonb_text(parsed)
    raise NeedsCareful


def _json_document(value: Any) -> str:
    if type(value) is str and "\x00" not in value and "\\u" not in value:
        return jsonb_text(_DECODE_JSON(value))
    raise NeedsCareful


def _column(column: ColumnSpec) -> Callable[[Any], Any]:
    if column.kind == "int":
        return _int(column)
    if column.kind == "text":
        return _text(column)
    if column.kind == "ts":
        return _timestamp(column)
    if column.kind == "bool":
        return _bool
    if column.kind == "date":
        return _date
    if column.kind == "enum":
        return _enum(column)
    if column.kind == "band":
        return _band()
    return _suggestions if column.text_as_list else _json_document


def row_converter(
    spec: TableSpec,
    source_columns: tuple[str, ...],
    orphans: frozenset[Any],
    set_aside: set[int] | None,
) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """Return a function converting one canonical legacy row, or raising NeedsCareful."""
    steps: list[tuple[int, Callable[[Any], Any]] | tuple[None, Any]] = []
    for column in spec.columns:
        if column.name in source_columns:
            steps.append((source_columns.index(column.name), _column(column)))
        elif column.derive is not None:
            source = column.derive.source
            source_at = source_columns.index(source) if source in source_columns else None
            steps.append((None, (column.derive.compute, source_at)))
        else:
            assert column.default is not MISSING
            steps.append((None, column.default))
    id_at = source_columns.index("id")
    parent_at = spec.column_names.index(spec.parent[0]) if spec.parent else None
    daily_name, day_name = LEGACY_ONLY_USER_COLUMNS
    daily_at = source_columns.index(daily_name) if daily_name in source_columns else None
    day_at = source_columns.index(day_name) if day_name in source_columns else None
    has_orphans = bool(orphans)

    # The usual case: columns read from the source, plus constant defaults, put in target
    # order by one C-level itemgetter. Only a derived column (word_count) takes the loop.
    present = [(index, step) for index, step in steps if index is not None]
    constants = [step for index, step in steps if index is None]
    simple = not any(isinstance(step, tuple) for step in constants)
    positions = _target_positions(steps)
    arrange = itemgetter(*positions) if len(positions) > 1 else None

    def build(raw: tuple[Any, ...]) -> Any:
        if simple:
            values = [step(raw[index]) for index, step in present]  # type: ignore[misc]
            if not constants:
                return values
            return arrange(values + constants) if arrange else values + constants
        out: list[Any] = []
        for index, step in steps:
            if index is not None:
                out.append(step(raw[index]))  # type: ignore[operator]
            elif isinstance(step, tuple):
                compute, source_at = step
                out.append(compute(raw[source_at] if source_at is not None else None))
            else:
                out.append(step)
        return out

    def convert(raw: tuple[Any, ...]) -> tuple[Any, ...]:
        out = build(raw)
        if has_orphans and raw[id_at] in orphans:
            raise NeedsCareful
        if parent_at is not None and set_aside and out[parent_at] in set_aside:
            raise NeedsCareful
        if daily_at is not None:
            daily = raw[daily_at]
            if type(daily) is not int or not 0 <= daily <= COUNTER_MAX:
                raise NeedsCareful
        if day_at is not None and raw[day_at] is not None:
            _date(raw[day_at])
        return tuple(out)

    return convert


def _target_positions(steps: Sequence[tuple[int | None, Any]]) -> list[int]:
    """Return, per target column, its place in (values read from the source + constants)."""
    present = sum(1 for index, _ in steps if index is not None)
    positions: list[int] = []
    read = constant = 0
    for index, _ in steps:
        if index is not None:
            positions.append(read)
            read += 1
        else:
            positions.append(present + constant)
            constant += 1
    return positions
