"""A column of a known table that the import would drop stops it, unless left behind by name.

Like an unknown table (``--skip-table``): ``db import-sqlite``, ``db verify-import`` and
``db cutover`` refuse before anything is committed, naming ``table.column`` and the remedy;
``--skip-column TABLE.COLUMN`` leaves it behind on purpose, listed in the report with the
values dropped. The legacy bot's own schema and a bandwise deployment need no such choice.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bandwise.cli.main import app
from bandwise.config import Settings, load_settings
from bandwise.errors import InvalidInput
from bandwise.ops.cutover import CutoverOptions, run_cutover
from bandwise.ops.importer import ImportOptions, check_source_tables, import_sqlite, verify_import
from testkit.importer import fetch, table_counts
from testkit.legacy import (
    bot_written_legacy_data,
    legacy_schema_sql,
    quirky_legacy_data,
    write_legacy_file,
)

REFUSED = r"submissions\.grader_note, users\.locale would not be imported.*--skip-column"
BOTH = ("submissions.grader_note", "users.locale")


def _with_extra_columns(path: Path) -> Path:
    """Write the quirky legacy file plus two columns the models do not have (3 values kept)."""
    write_legacy_file(path, quirky_legacy_data())
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE users ADD COLUMN locale TEXT")
        connection.execute("ALTER TABLE submissions ADD COLUMN grader_note TEXT")
        connection.execute("UPDATE users SET locale = 'en' WHERE id IN (1, 2)")
        connection.execute(
            "UPDATE submissions SET grader_note = 'ok' WHERE id = (SELECT min(id) FROM submissions)"
        )
    connection.close()
    return path


def test_the_legacy_bots_schema_needs_no_skipped_column(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(legacy_schema_sql())
    connection.close()
    check_source_tables(path)  # the bot's every column has a home (or moves, the counters)
    check_source_tables(write_legacy_file(tmp_path / "bot.db", bot_written_legacy_data()))


@pytest.mark.parametrize("worker", [False, True], ids=["thread", "worker-process"])
async def test_an_unknown_column_stops_the_import_until_skipped_by_name(
    legacy_path: Path, target_url: str, import_settings: Settings, worker: bool
) -> None:
    _with_extra_columns(legacy_path)

    with pytest.raises(InvalidInput, match=REFUSED):
        await import_sqlite(
            legacy_path, target_url, import_settings, ImportOptions(convert_in_worker=worker)
        )
    assert set((await table_counts(target_url)).values()) == {0}
    with pytest.raises(InvalidInput, match=r"users\.locale would not be imported"):
        options = ImportOptions(convert_in_worker=worker, skip_columns=BOTH[:1])
        await import_sqlite(legacy_path, target_url, import_settings, options)

    options = ImportOptions(convert_in_worker=worker, skip_columns=BOTH)
    report = await import_sqlite(legacy_path, target_url, import_settings, options)

    assert report.verified and report.committed
    assert report.skipped_columns == {"submissions.grader_note": 1, "users.locale": 2}
    assert (await table_counts(target_url))["users"] == 3

    with pytest.raises(InvalidInput, match=REFUSED):
        await verify_import(legacy_path, target_url, import_settings)
    again = await verify_import(legacy_path, target_url, import_settings, skip_columns=BOTH)
    assert again.verified and again.skipped_columns == report.skipped_columns


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ("locale", r"--skip-column locale: write TABLE\.COLUMN"),
        ("users.telegram_id", r"users\.telegram_id is always imported"),
        ("users.daily_submissions", r"users\.daily_submissions is always imported"),
        ("users.nickname", r"has no column users\.nickname"),
        ("notes.body", r"notes is not a table bandwise imports.*--skip-table notes"),
    ],
)
async def test_a_wrong_skip_column_is_refused(
    legacy_path: Path, target_url: str, import_settings: Settings, choice: str, message: str
) -> None:
    _with_extra_columns(legacy_path)
    options = ImportOptions(skip_columns=(*BOTH, choice))
    with pytest.raises(InvalidInput, match=message):
        await import_sqlite(legacy_path, target_url, import_settings, options)
    assert set((await table_counts(target_url)).values()) == {0}


def test_the_commands_refuse_and_accept_skip_column(legacy_path: Path, target_url: str) -> None:
    _with_extra_columns(legacy_path)
    runner = CliRunner()
    env = {"DATABASE_URL": target_url}
    skips = [option for column in BOTH for option in ("--skip-column", column)]

    refused = runner.invoke(app, ["db", "import-sqlite", str(legacy_path)], env=env)
    assert refused.exit_code != 0
    assert "users.locale" in refused.output and "--skip-column" in refused.output

    imported = runner.invoke(app, ["db", "import-sqlite", str(legacy_path), *skips], env=env)
    assert imported.exit_code == 0, imported.output
    assert "skipped column (--skip-column): users.locale, 2 values not imported" in (
        imported.output
    )

    refused = runner.invoke(app, ["db", "verify-import", str(legacy_path)], env=env)
    assert refused.exit_code != 0 and "submissions.grader_note" in refused.output
    verified = runner.invoke(app, ["db", "verify-import", str(legacy_path), *skips], env=env)
    assert verified.exit_code == 0, verified.output


async def test_cutover_refuses_an_unknown_column_before_anything_is_written(
    tmp_path: Path, target_url: str
) -> None:
    source = _with_extra_columns(tmp_path / "legacy.db")
    settings = load_settings(
        database_url=f"sqlite:///{source}",
        maintenance_flag_path=tmp_path / "maintenance.flag",
        backup_dir=tmp_path / "backups",
    )
    options = CutoverOptions(sqlite_path=source, postgres_url=target_url, service_stopped=True)

    refused = await run_cutover(settings, options)

    assert not refused.succeeded and refused.failed_step == "preflight"
    assert "users.locale" in str(refused.failure) and "--skip-column" in str(refused.failure)
    assert set((await table_counts(target_url)).values()) == {0}
    rows = await fetch(target_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'users'")
    assert rows[0][0] == 0
