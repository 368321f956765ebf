"""The SQL fast path: canonical rows never reach Python's converter; COPY text is exact."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bandwise.ops.importer.convert import Converter
from bandwise.ops.importer.report import ImportReport
from bandwise.ops.importer.snapshot import open_snapshot
from bandwise.ops.importer.sqlfast import (
    Repair,
    _copy_body,
    copy_line,
    fast_columns,
    lines_of_batch,
    text_batches,
    uses_sql_path,
)
from bandwise.ops.importer.sqlpages import _id_is_rowid, _unpacked, fast_rows
from bandwise.ops.importer.tables import TABLES
from testkit.legacy import write_generated_legacy_file, write_legacy_file
from testkit.respellings import FAST, respelling_legacy_data


def test_the_bots_own_rows_all_take_the_sql_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "legacy.db"
    write_generated_legacy_file(source, 40)
    snapshot = open_snapshot(source, tmp_path)
    converter = Converter(ImportReport("s", "t", "import"), policy="abort", strict=False)
    careful: list[Any] = []
    monkeypatch.setattr(converter, "convert_row", lambda *args, **kwargs: careful.append(args))
    try:
        for name in ("submissions", "assessments"):
            spec = TABLES[name]
            columns = snapshot.source_columns(spec)
            assert uses_sql_path(spec, columns)
            data = b"".join(text_batches(snapshot, converter, spec, columns, 100))
            figures = converter.report.figures(name)
            assert data.count(b"\n") == figures.imported == snapshot.count(name) > 100
    finally:
        snapshot.close()
    assert careful == []


def test_tables_without_the_sql_path() -> None:
    submissions = TABLES["submissions"]
    without_word_count = tuple(c for c in submissions.column_names if c != "word_count")
    assert not uses_sql_path(submissions, without_word_count)  # computed from the text
    assert not uses_sql_path(TABLES["users"], TABLES["users"].column_names)


def test_values_are_escaped_for_copy_text() -> None:
    body = _copy_body([b"1\tline one\nline two\\ end\r", b"2\tplain"])
    assert body == b"1\tline one\\nline two\\\\ end\\r\n2\tplain\n"
    assert copy_line(("text", "text"), ("a\tb", None)) == "a\\tb\t\\N"


def _careful(taken: list[int]) -> Any:
    def careful(ids: list[int]) -> Iterator[str | None]:
        for row_id in ids:
            taken.append(row_id)
            yield f"{row_id}\tcareful"

    return careful


def test_rows_with_tabs_nul_or_invalid_utf8_go_to_the_careful_path() -> None:
    taken: list[int] = []
    noted: list[Any] = []
    batch: list[Any] = [
        (1, None, 1, 0, b"0\t1\tfine"),
        (2, None, 1, 0, b"0\t2\tvalue\twith a tab"),
        (3, None, 1, 0, b"0\t3\tnul\x00byte"),
        (4, None, 1, 0, b"0\t4\t\xff invalid"),
        (5, None, 0, 0, b"0\t5\tnot canonical"),
        (6, 7, 1, 0, b"0\t6\tparent set aside"),
        (8, None, 1, 0, b"0\t8\torphan"),
        (9, None, 1, 1, b"0\t9\trespelled"),
    ]
    text, _, fast = lines_of_batch(
        batch, 2, {8}, {7}, _careful(taken), lambda *row: noted.append(row)
    )
    assert fast == 2 and taken == [2, 3, 4, 5, 6, 8]
    assert noted == [(9, None, 1, None)]
    assert text.startswith(b"1\tfine\n9\trespelled\n")


def test_a_canonical_row_holding_a_telegram_id_is_re_attached_without_the_careful_path() -> None:
    taken: list[int] = []
    noted: list[Any] = []
    repair = Repair({2: 7, 3: 8, 5: 9}, 2)
    batch: list[Any] = [
        (1, 1, 1, 0, b"0\t1\t1\tfine"),
        (2, 7000000007, 1, 0, b"0\t2\t7000000007\tbot-written"),
        (3, 7000000008, 1, 0, b"0\t3\t7000000008\tnul\x00byte"),  # careful anyway: all there
        (4, 9999, 1, 0, b"0\t4\t9999\torphan"),
        (5, 7000000009, 1, 4, b"0\t5\t7000000009\trespelled too"),
    ]
    text, _, fast = lines_of_batch(
        batch, 3, {2, 3, 4, 5}, None, _careful(taken), lambda *row: noted.append(row), repair=repair
    )
    assert fast == 3 and taken == [3, 4]
    assert noted == [(2, 7000000007, 0, 7), (5, 7000000009, 4, 9)]
    assert text.startswith(b"1\t1\tfine\n2\t7\tbot-written\n5\t9\trespelled too\n")


def test_respelled_rows_take_the_sql_path_and_only_judgment_goes_careful(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = respelling_legacy_data()
    source = write_legacy_file(tmp_path / "legacy.db", data)
    snapshot = open_snapshot(source, tmp_path)
    converter = Converter(ImportReport("s", "t", "import"), policy="quarantine", strict=False)
    careful: list[Any] = []
    convert_row = converter.convert_row

    def counted(spec: Any, columns: Any, raw: Any, **kwargs: Any) -> Any:
        careful.append(raw[0])
        return convert_row(spec, columns, raw, **kwargs)

    monkeypatch.setattr(converter, "convert_row", counted)
    spec = TABLES["submissions"]
    try:
        columns = snapshot.source_columns(spec)
        b"".join(text_batches(snapshot, converter, spec, columns, 7))
    finally:
        snapshot.close()
    keys = {"submitted_at": "ts", "task_type": "enum_task", "processing_status": "enum_status"}
    stored = sqlite3.connect(source)  # as the columns' affinities left the values
    rows = stored.execute(f"SELECT id, text, {', '.join(keys)} FROM submissions ORDER BY id")
    judged = [
        row_id
        for row_id, text, *values in rows
        if "\x00" in text
        or not all(
            any(type(fast) is type(value) and fast == value for fast in FAST[key])
            for key, value in zip(keys.values(), values, strict=True)
        )
    ]
    stored.close()
    assert careful == judged and len(judged) < len(data.submissions) // 2
    counts = converter.report.transformation_counts
    assert counts["submissions.submitted_at:datetime_respelled"] > 10
    assert counts["submissions.submitted_at:epoch_to_datetime"] > 2
    assert counts["submissions.task_type:enum_respelled"] > 10


def _by_row(connection: sqlite3.Connection, name: str, columns: tuple[str, ...]) -> list[Any]:
    query = f'SELECT {fast_columns(TABLES[name], columns)} FROM "{name}" ORDER BY id'
    return connection.execute(query).fetchall()


@pytest.mark.parametrize("extremes", [False, True], ids=["ids dense", "ids at both int64 ends"])
@pytest.mark.parametrize("rowid", [True, False], ids=["id is the rowid", "id is a column"])
def test_rows_read_a_page_per_step_are_those_read_row_by_row(
    tmp_path: Path, rowid: bool, extremes: bool
) -> None:
    source = tmp_path / "legacy.db"
    write_generated_legacy_file(source, 30)
    connection = sqlite3.connect(source, check_same_thread=False)
    helper = sqlite3.connect(source, check_same_thread=False)
    try:
        ids = [row[0] for row in connection.execute("SELECT id FROM assessments ORDER BY id")]
        assert len(ids) > 50
        edits = [
            # the page's row separator inside a value: that page is read row by row
            ("UPDATE assessments SET detailed_feedback = 'a\x1eb' WHERE id = ?", (ids[5],)),
            ("UPDATE assessments SET submission_id = 'x' WHERE id = ?", (ids[6],)),
            ("UPDATE assessments SET submission_id = 2.5 WHERE id = ?", (ids[7],)),
            ("UPDATE assessments SET assessed_at = 12 WHERE id = ?", (ids[8],)),
            ("DELETE FROM assessments WHERE id BETWEEN ? AND ?", (ids[20], ids[30])),  # a gap
        ]
        if extremes:  # one range holds nearly every row: it is read in several pages
            edits += [
                ("UPDATE assessments SET id = ? WHERE id = ?", (2**63 - 1, ids[-1])),
                ("UPDATE assessments SET id = ? WHERE id = ?", (-(2**63), ids[0])),
            ]
        for statement, arguments in edits:
            connection.execute(statement, arguments)
        if not rowid:  # the same rows in a table whose id is an ordinary column
            connection.execute("CREATE TABLE copied AS SELECT * FROM assessments")
            connection.execute("DROP TABLE assessments")
            connection.execute("ALTER TABLE copied RENAME TO assessments")
        connection.commit()
        columns = tuple(row[1] for row in connection.execute("PRAGMA table_info(assessments)"))
        spec = TABLES["assessments"]
        assert _id_is_rowid(connection, '"assessments"') is rowid
        expected = _by_row(connection, "assessments", columns)
        for batch_rows in (1, 7, len(ids) // 2, len(ids), 500):
            read = fast_rows(
                (connection, helper), spec.name, fast_columns(spec, columns), batch_rows
            )
            batches = list(read)
            assert [row for batch in batches for row in batch] == expected
            assert all(0 < len(batch) <= batch_rows for batch in batches)
    finally:
        connection.close()
        helper.close()


def test_a_page_whose_columns_do_not_add_up_is_read_again_row_by_row() -> None:
    assert _unpacked(2, "1,2", ",5", "10", "0,3", b"a\tb\x1ec") == [
        (1, None, 1, 0, b"a\tb"),
        (2, 5, 0, 3, b"c"),
    ]
    assert _unpacked(2, "1,2", ",", "11", "0,0", b"a\x1eb\x1ec") is None  # separator in a value
    assert _unpacked(2, "1,2", ",", "11", "0", b"a\x1eb") is None  # a NULL code left out
    assert _unpacked(2, "1,2", ",", "11", None, None) is None
    assert _unpacked(2, "2,1", ",", "10", "0,0", b"b\x1ea") == [
        (1, None, 0, 0, b"a"),
        (2, None, 1, 0, b"b"),
    ]
