"""SQLite's respellings give the careful path's very value and notes, or leave the value to it."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bandwise.ops.importer.canonical import field_text
from bandwise.ops.importer.respell import Respellings, column_sql, literal
from bandwise.ops.importer.tables import TABLES, ColumnSpec
from bandwise.ops.importer.values import Bad, RowState, convert_value
from testkit.respellings import FAST, OTHERS

COLUMNS = {
    "ts": TABLES["submissions"].column("submitted_at"),
    "enum_task": TABLES["submissions"].column("task_type"),
    "enum_status": TABLES["submissions"].column("processing_status"),
    "bool": TABLES["assessments"].column("flagged"),
    "band": TABLES["assessments"].column("task_achievement_score"),
}


# A value is stored under each column affinity a source may declare (DateTime columns have
# NUMERIC affinity) and converted by the careful path as SQLite gives it back.
AFFINITIES = ("", "NUMERIC", "TEXT", "REAL", "INTEGER")


def _sqlite(column: ColumnSpec, values: list[Any], affinity: str) -> list[tuple[Any, ...]]:
    """Return (stored value, canonical?, convertible?, code, text) per value."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f'CREATE TABLE t ("{column.name}" {affinity})')
        connection.executemany("INSERT INTO t VALUES (?)", [(value,) for value in values])
        sql = column_sql(column)
        return connection.execute(
            f'SELECT "{column.name}", ({sql.canonical}), ({sql.convertible}), ({sql.code}), '
            f"CAST(printf({literal(sql.format)}, {sql.argument}) AS BLOB) FROM t ORDER BY rowid"
        ).fetchall()
    finally:
        connection.close()


def _check(key: str, values: list[Any]) -> list[bool]:
    """Assert SQLite agrees with the careful path wherever it converts; return convertible?.

    Convertible means as stored without affinity (under another, '7.13' becomes a float).
    """
    column = COLUMNS[key]
    notes = column_sql(column).notes
    convertible = [False] * len(values)
    for affinity in AFFINITIES:
        rows = _sqlite(column, values, affinity)
        for at, (value, canonical, fast, code, text) in enumerate(rows):
            state = RowState("t", 1)
            try:
                converted = convert_value(state, column, value, strict=False)
            except Bad:
                converted = Bad
            if canonical:
                assert fast and code == 0, (value, affinity)
            if fast:
                assert converted is not Bad, (value, affinity)
                assert text == field_text(column.kind, converted).encode(), (value, affinity)
                kinds = [note.kind for note in state.notes]
                assert kinds == ([notes[code - 1]] if code else []), (value, affinity)
            if not affinity:
                convertible[at] = bool(fast)
    return convertible


@pytest.mark.parametrize("key", sorted(FAST))
def test_every_respelled_spelling_is_converted_by_sqlite_as_the_careful_path_does(
    key: str,
) -> None:
    values = list(FAST[key])
    convertible = _check(key, values)
    assert all(convertible), [v for v, ok in zip(values, convertible, strict=True) if not ok]


@pytest.mark.parametrize("key", sorted(OTHERS))
def test_neighbouring_spellings_and_nulls_are_left_to_the_careful_path(key: str) -> None:
    values = [*OTHERS[key], None]
    _check(key, values)


_DIGITS = st.text(alphabet="0123456789", max_size=11)


@given(
    year=st.integers(0, 10_000),
    month=st.integers(0, 13),
    day=st.integers(0, 32),
    hour=st.integers(0, 25),
    minute=st.integers(0, 61),
    second=st.integers(0, 61),
    separator=st.sampled_from([" ", "T", "t", "_", ""]),
    point=st.sampled_from([".", ",", ":", ""]),
    fraction=_DIGITS,
)
def test_any_date_time_text_is_respelled_exactly_or_left_alone(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
    separator: str,
    point: str,
    fraction: str,
) -> None:
    text = (
        f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"
        f"{point}{fraction}"
    )
    _check("ts", [text])


@given(st.one_of(st.integers(-(2**40), 2**40), st.text(max_size=12), st.floats()))
@example(-0.0)  # PostgreSQL's numeric has no negative zero: both paths must spell it 0.00
@example("-0.0")
def test_any_value_is_respelled_exactly_or_left_alone(value: Any) -> None:
    for key in COLUMNS:
        _check(key, [value])


def test_a_rows_code_names_its_respellings_in_column_order() -> None:
    spec = TABLES["submissions"]
    respellings = Respellings(spec, spec.column_names[:-1])
    assert [name for name, _ in respellings.columns] == [
        "task_type",
        "submitted_at",
        "processing_status",
    ]
    assert respellings.notes(0) == ()
    assert [note[:2] for note in respellings.notes(1 | 2 << 2 | 1 << 4)] == [
        ("task_type", "enum_respelled"),
        ("submitted_at", "epoch_to_datetime"),
        ("processing_status", "enum_respelled"),
    ]
    assert respellings.notes(1 << 2) == (("submitted_at", "datetime_respelled", ""),)
