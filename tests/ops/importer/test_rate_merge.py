"""SQLite's merge of rate_limits gives the Python merge's rows, figures and transformations."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bandwise.config import Settings
from bandwise.ops.importer import ImportOptions, import_sqlite, ratemerged, ratesql, verify_import
from bandwise.ops.importer.convert import MAX_LISTED_TRANSFORMATIONS, Converter
from bandwise.ops.importer.ratemerged import (
    all_canonical_ahead,
    drop_counters,
    load_counters,
    may_be_plain,
)
from bandwise.ops.importer.ratesql import _line, rate_limit_text
from bandwise.ops.importer.report import ImportReport, Transformation
from bandwise.ops.importer.snapshot import open_snapshot
from bandwise.ops.importer.tables import TABLES
from testkit.legacy import LegacyData, bot_written_legacy_data, write_legacy_file
from testkit.legacy_shapes import SHAPES, write_shaped_legacy_file

SPEC = TABLES["rate_limits"]


def _user(user_id: int, daily: int, day: str | None) -> dict[str, Any]:
    return {
        "id": user_id,
        "telegram_id": 5_000_000_000 + user_id,
        "username": f"user{user_id}",
        "first_name": f"Name {user_id}",
        "created_at": "2024-01-01 08:00:00.000000",
        "is_pro": 0,
        "daily_submissions": daily,
        "last_submission_date": day,
    }


def _limit(row_id: int, user_id: int, day: str, count: int, at: str) -> dict[str, Any]:
    return {
        "id": row_id,
        "user_id": user_id,
        "submission_date": day,
        "submission_count": count,
        "created_at": f"{day} {at}.000000",
    }


def _data() -> LegacyData:
    """Every case of the merge, rows written in time order (users interleaved)."""
    data = LegacyData()
    data.users = [
        _user(1, 2, "2024-03-01"),  # no rows: a row of its own, before every user with rows
        _user(2, 9, "2024-03-02"),  # raises its merged day (4 + 3 + 1 < 9)
        _user(3, 1, "2024-03-02"),  # absorbed by its merged day (2 + 2)
        _user(4, 3, "2024-03-05"),  # no rows: a row of its own, between users with rows
        _user(5, 2, "2024-03-09"),  # has rows, none of that day: a row of its own
        _user(6, 0, "2024-03-02"),  # no counter (0)
        _user(7, 4, None),  # no counter (no day)
        _user(9, 1, "2024-04-01"),  # no rows: a row of its own, between users with rows
        _user(10, 3, "2024-03-03 18:00:00"),  # a hand-made day (parsed by Python): raises
        _user(11, 1, "2024-04-02"),  # no rows: a row of its own, after every user with rows
    ]
    data.rate_limits = [
        _limit(10, 2, "2024-03-02", 4, "09:00:00"),
        _limit(11, 3, "2024-03-01", 1, "09:30:00"),
        _limit(12, 2, "2024-03-01", 1, "10:00:00"),
        _limit(13, 3, "2024-03-02", 2, "10:00:00"),
        _limit(14, 5, "2024-03-02", 1, "11:00:00"),
        _limit(15, 2, "2024-03-02", 3, "07:00:00"),  # earlier created_at than the kept row
        _limit(16, 3, "2024-03-02", 2, "12:00:00"),
        _limit(17, 6, "2024-03-02", 1, "12:00:00"),
        _limit(18, 2, "2024-03-02", 1, "13:00:00"),
        _limit(19, 2, "2024-03-01", 2, "13:30:00"),
        _limit(20, 7, "2024-03-03", 1, "14:00:00"),
        _limit(21, 7, "2024-03-03", 1, "15:00:00"),
        _limit(22, 10, "2024-03-03", 1, "16:00:00"),
    ]
    return data


def _merged(
    path: Path, scratch: Path, *, sql: bool, listed_before: int
) -> tuple[list[bytes], ImportReport]:
    """Return the merged rows' COPY lines (sorted) and the report of one way of merging."""
    snapshot = open_snapshot(path, scratch)
    converter = Converter(ImportReport("s", "t", "import"), policy="quarantine", strict=False)
    earlier = Transformation("users", 0, "first_name", "nul_removed", "")
    converter.report.transformations += [earlier] * listed_before
    columns = snapshot.source_columns(SPEC)
    next_id = snapshot.max_id(SPEC.name) + 1
    try:
        if sql:
            with all_canonical_ahead(snapshot, SPEC) as canonical:
                assert may_be_plain(converter, SPEC) and canonical()
                text = b"".join(
                    rate_limit_text(snapshot, converter, SPEC, columns, next_id, canonical)
                )
            lines = text.splitlines()
        else:
            batches = snapshot.batches(SPEC.name, columns, order_by="user_id, id", batch_rows=3)
            converted = converter.convert_rate_limits(
                SPEC, columns, batches, snapshot.user_counters(), next_id
            )
            lines = [_line(row)[:-1] for rows in converted for row in rows]
    finally:
        snapshot.close()
    return sorted(lines), converter.report


@pytest.mark.parametrize(
    "listed_before",
    [0, MAX_LISTED_TRANSFORMATIONS - 2, MAX_LISTED_TRANSFORMATIONS],
    ids=["room", "full-mid-user", "full"],
)
def test_sqlite_merges_as_the_python_path_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listed_before: int
) -> None:
    path = write_legacy_file(tmp_path / "legacy.db", _data())
    python_lines, python = _merged(path, tmp_path, sql=False, listed_before=listed_before)

    def refused(*_: Any) -> None:
        raise AssertionError("the SQLite merge fell back to the Python merge")

    monkeypatch.setattr(ratesql, "_converted", refused)
    sql_lines, sql = _merged(path, tmp_path, sql=True, listed_before=listed_before)

    assert sql_lines == python_lines
    assert b"23\t1\t2024-03-01\t2\t2024-03-01 00:00:00.000000" in sql_lines  # new ids: by user
    assert b"10\t2\t2024-03-02\t9\t2024-03-02 07:00:00.000000" in sql_lines  # raised
    assert sql.tables == python.tables
    assert sql.transformations == python.transformations
    assert sql.transformations_truncated == python.transformations_truncated
    # The same kinds, counted in the same order (the report lists them as first met).
    assert list(sql.transformation_counts.items()) == list(python.transformation_counts.items())
    if listed_before == 0:
        listed = [(t.source_id, t.kind, t.detail) for t in sql.transformations]
        assert listed == [
            (10, "rate_limit_merged", "duplicate row id=15 merged (counts summed)"),
            (10, "rate_limit_merged", "duplicate row id=18 merged (counts summed)"),
            (12, "rate_limit_merged", "duplicate row id=19 merged (counts summed)"),
            (10, "counter_raised", "users.daily_submissions=9 > 8"),
            (13, "rate_limit_merged", "duplicate row id=16 merged (counts summed)"),
            (20, "rate_limit_merged", "duplicate row id=21 merged (counts summed)"),
            (22, "counter_raised", "users.daily_submissions=3 > 1"),
        ]


async def test_verify_import_merges_a_copied_snapshot_as_the_import_did(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    # verify-import reads a private copy (another SQLite connection mode): same merge, same sums.
    write_shaped_legacy_file(legacy_path, 60, SHAPES["rate_heavy"])
    imported = await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())
    verified = await verify_import(legacy_path, target_url, import_settings)
    assert imported.verified and verified.verified
    assert (
        verified.tables[SPEC.name].expected_checksum == imported.tables[SPEC.name].expected_checksum
    )
    assert verified.transformations == imported.transformations


def test_counters_not_in_user_order_leave_the_merge_to_python(tmp_path: Path) -> None:
    # The Python path takes counters by users.id as SQLite sorts it: text after numbers.
    path = write_legacy_file(tmp_path / "legacy.db", _data())
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE users RENAME TO typed_users")
        columns = ", ".join(_user(0, 0, None))
        connection.execute(f"CREATE TABLE users ({columns})")  # untyped: ids may be text
        connection.execute("INSERT INTO users SELECT * FROM typed_users")
        connection.execute("UPDATE users SET id = '12' WHERE id = 2")
    connection.close()
    snapshot = open_snapshot(path, tmp_path)
    converter = Converter(ImportReport("s", "t", "import"), policy="quarantine", strict=False)
    try:
        with snapshot.reading("main", repair=False) as reading:
            assert not load_counters(reading, snapshot, converter)
            drop_counters(reading)
    finally:
        snapshot.close()


def _count_spelling_tests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the scans of rate_limits' spelling test (the tables they were run on)."""
    tested: list[str] = []
    test = ratemerged.all_canonical

    def counted(connection: sqlite3.Connection, spec: Any) -> bool:
        tested.append(spec.name)
        return test(connection, spec)

    monkeypatch.setattr(ratemerged, "all_canonical", counted)
    return tested


async def test_no_spelling_test_when_orphans_or_telegram_ids_already_need_python(
    legacy_path: Path,
    target_url: str,
    import_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bot's own rows: Telegram ids as rate_limits.user_id, rows of a deleted user.
    write_legacy_file(legacy_path, bot_written_legacy_data())
    tested = _count_spelling_tests(monkeypatch)
    report = await import_sqlite(
        legacy_path, target_url, import_settings, ImportOptions(on_bad_rows="quarantine")
    )
    assert report.verified and report.committed
    assert tested == []  # a whole scan of the table, for an answer that could not be used
    assert report.tables[SPEC.name].imported


async def test_the_spelling_test_runs_once_when_sqlite_may_merge(
    legacy_path: Path,
    target_url: str,
    import_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_shaped_legacy_file(legacy_path, 60, SHAPES["rate_heavy"])  # no orphan, no Telegram id
    tested = _count_spelling_tests(monkeypatch)

    def refused(*_: Any) -> None:
        raise AssertionError("the SQLite merge fell back to the Python merge")

    monkeypatch.setattr(ratesql, "_converted", refused)
    report = await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())
    assert report.verified and report.committed
    assert tested == [SPEC.name]
