"""Target rules (empty, --replace, --dry-run) and source rules (corrupt, other schema versions)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bandwise.config import Settings
from bandwise.errors import Conflict, DatabaseUnavailable, InvalidInput
from bandwise.ops.importer import ImportOptions, import_sqlite, verify_import
from testkit.importer import fetch, table_counts
from testkit.legacy import break_an_index, quirky_legacy_data, write_legacy_file
from testkit.pg_cluster import free_port


async def test_non_empty_target_is_refused_unless_replace(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    with pytest.raises(Conflict, match=r"not empty.*--replace"):
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    report = await import_sqlite(
        legacy_path, target_url, import_settings, ImportOptions(replace=True)
    )
    assert report.verified and report.committed
    assert (await table_counts(target_url))["users"] == 3


async def test_dry_run_verifies_then_rolls_back(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())

    report = await import_sqlite(
        legacy_path, target_url, import_settings, ImportOptions(dry_run=True)
    )

    assert report.verified and not report.committed and report.mode == "dry-run"
    assert report.tables["users"].checksum_match
    assert set((await table_counts(target_url)).values()) == {0}


async def test_verify_import_catches_a_changed_value(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())
    assert (await verify_import(legacy_path, target_url, import_settings)).verified

    await fetch(target_url, "UPDATE submissions SET text = text || '.' WHERE id = 11")

    report = await verify_import(legacy_path, target_url, import_settings)
    assert not report.verified
    failed = [check.name for check in report.checks if not check.ok]
    assert failed == ["submissions: content checksum"]


async def test_verify_import_catches_an_orphan_and_a_band_out_of_range(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    report = await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())
    validated = [check for check in report.checks if check.name.startswith("foreign key")]
    assert len(validated) == 4 and all("re-created" in check.detail for check in validated)

    # Someone dropped the foreign key and the band range check, then wrote bad values.
    for (constraint,) in await fetch(
        target_url,
        "SELECT conname FROM pg_constraint WHERE conrelid = 'assessments'::regclass "
        "AND (contype = 'f' OR conname LIKE '%overall_band_score%')",
    ):
        await fetch(target_url, f'ALTER TABLE assessments DROP CONSTRAINT "{constraint}"')
    await fetch(
        target_url,
        "UPDATE assessments SET submission_id = 999999, overall_band_score = 9.5 "
        "WHERE id = (SELECT min(id) FROM assessments)",
    )

    report = await verify_import(legacy_path, target_url, import_settings)
    failed = {check.name for check in report.checks if not check.ok}
    assert failed == {
        "assessments: content checksum",
        "foreign key assessments.submission_id → submissions",
        "band scores within 0–9",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database at all", "not a SQLite database"),
        (b"SQLite format 3\x00" + b"\x00" * 84 + b"garbage" * 200, "SQLite"),
    ],
)
async def test_non_sqlite_or_corrupt_file_is_a_clear_error(
    legacy_path: Path, target_url: str, import_settings: Settings, content: bytes, message: str
) -> None:
    legacy_path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message) as caught:
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())
    assert str(legacy_path) in str(caught.value)


async def test_corrupted_pages_fail_the_integrity_check(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    raw = bytearray(legacy_path.read_bytes())
    page = 4096
    for offset in range(page, len(raw), page):  # scribble over every page after the first
        raw[offset + 8 : offset + 64] = b"\xab" * 56
    legacy_path.write_bytes(bytes(raw))
    with pytest.raises(InvalidInput, match=r"integrity_check|corrupt|cannot read"):
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())


async def test_a_failed_integrity_check_during_the_load_commits_nothing(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    # Every row reads fine, but an index disagrees with its table: only integrity_check,
    # which runs alongside the load, can tell.
    write_legacy_file(legacy_path, quirky_legacy_data())
    break_an_index(legacy_path)

    with pytest.raises(InvalidInput, match=r"integrity_check failed"):
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())

    assert set((await table_counts(target_url)).values()) == {0}


async def test_older_schema_gets_defaults_and_unknown_tables_and_columns_need_skipping(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    connection = sqlite3.connect(legacy_path)
    connection.executescript("""
        CREATE TABLE users (id INTEGER PRIMARY KEY, telegram_id INTEGER NOT NULL,
                            username VARCHAR(255), created_at DATETIME NOT NULL, locale TEXT);
        CREATE TABLE submissions (id INTEGER PRIMARY KEY, user_id INTEGER, text TEXT,
                                  task_type VARCHAR(6), submitted_at DATETIME);
        CREATE TABLE feedback_votes (id INTEGER PRIMARY KEY, vote INTEGER);
        CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT);
        INSERT INTO users VALUES (1, 77, 'old', '2023-05-01 10:00:00', 'en');
        INSERT INTO submissions
            VALUES (1, 1, 'four words in here', 'TASK_2', '2023-05-02 10:00:00');
        INSERT INTO feedback_votes VALUES (1, 1);
        INSERT INTO notes (body) VALUES ('x');
    """)
    connection.commit()
    connection.close()

    with pytest.raises(InvalidInput, match=r"feedback_votes, notes .*--skip-table NAME"):
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())
    assert set((await table_counts(target_url)).values()) == {0}
    skip_tables = ("feedback_votes", "notes")
    with pytest.raises(InvalidInput, match=r"users\.locale would not be imported.*--skip-column"):
        options = ImportOptions(skip_tables=skip_tables)
        await import_sqlite(legacy_path, target_url, import_settings, options)
    assert set((await table_counts(target_url)).values()) == {0}

    report = await import_sqlite(
        legacy_path,
        target_url,
        import_settings,
        ImportOptions(skip_tables=skip_tables, skip_columns=("users.locale",)),
    )

    assert report.verified
    assert report.skipped_tables == {"feedback_votes": 1, "notes": 1}
    assert report.skipped_columns == {"users.locale": 1}
    assert "is_pro" in report.defaulted_columns["users"]
    assert report.defaulted_columns["rate_limits"] == ["(table absent: no rows)"]
    rows = await fetch(
        target_url,
        "SELECT u.is_pro, s.word_count, s.processing_status "
        "FROM users u JOIN submissions s ON s.user_id = u.id",
    )
    assert [tuple(row) for row in rows] == [(False, 4, "completed")]


async def test_a_sqlite_target_is_refused_before_anything_is_touched(
    legacy_path: Path, tmp_path: Path, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    target = tmp_path / "not-postgres.db"
    with pytest.raises(InvalidInput, match="must be a PostgreSQL URL"):
        await import_sqlite(legacy_path, f"sqlite:///{target}", import_settings, ImportOptions())
    assert not target.exists()


async def test_an_unreachable_target_is_a_clear_error(
    legacy_path: Path, import_settings: Settings
) -> None:
    write_legacy_file(legacy_path, quirky_legacy_data())
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(DatabaseUnavailable, match=r"connection refused\n  target: .*127\.0\.0\.1:"):
        await import_sqlite(legacy_path, url, import_settings, ImportOptions())


async def test_a_file_without_required_columns_is_refused(
    legacy_path: Path, target_url: str, import_settings: Settings
) -> None:
    connection = sqlite3.connect(legacy_path)
    connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT)")
    connection.close()
    with pytest.raises(InvalidInput, match=r"missing: users\.telegram_id, users\.created_at"):
        await import_sqlite(legacy_path, target_url, import_settings, ImportOptions())
